#include "gui/editor/app.hpp"

#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <utility>
#include <vector>

#define GLFW_INCLUDE_NONE
#include <GL/gl.h>
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>
#include <stb_image_write.h>

#include "core/patch/patch_file.hpp"

namespace kabel::editor {

namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> gStop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "used from a signal handler");
extern "C" void kabelEditorStop(int) {
    gStop.store(true);
}

std::atomic<bool> gRefresh{true};  // the window system asked for a redraw (expose, resize)
void windowRefresh(GLFWwindow*) {
    gRefresh.store(true);
}
// Any input event since the last frame. Installed before ImGui's GLFW backend, which chains to
// them: the backend only moves io.MousePos in NewFrame, so io cannot tell an idle loop about it.
bool gInput = true;
void inputEvent(GLFWwindow*, double, double) {
    gInput = true;
}

void glfwError(int code, const char* text) {
    std::fprintf(stderr, "kabel: GLFW error %d: %s\n", code, text);
}

// The back buffer as a PNG (before the swap). False when it cannot be written.
bool writeScreenshot(const std::string& path, int width, int height) {
    std::vector<unsigned char> pixels(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3);
    glPixelStorei(GL_PACK_ALIGNMENT, 1);
    glReadBuffer(GL_BACK);
    glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE, pixels.data());
    stbi_flip_vertically_on_write(1);  // GL rows start at the bottom
    const std::string temp = path + ".tmp.png";
    if (stbi_write_png(temp.c_str(), width, height, 3, pixels.data(), width * 3) == 0) return false;
    std::error_code ec;
    std::filesystem::rename(temp, path, ec);
    return !ec;
}

// DejaVu Sans (Debian fonts-dejavu-core) with the accidentals scale names use (U+266D..266F),
// else ImGui's built-in ASCII font.
void loadFont(ImGuiIO& io) {
    static const ImWchar kRanges[] = {0x0020, 0x017F, 0x0370, 0x03FF, 0x2000, 0x206F, 0x2190, 0x22FF, 0x2600, 0x26FF, 0};
    const char* path = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec) && io.Fonts->AddFontFromFileTTF(path, 15.0f, nullptr, kRanges)) return;
    io.Fonts->AddFontDefault();
}

void style() {
    ImGui::StyleColorsDark();
    ImGuiStyle& s = ImGui::GetStyle();
    s.WindowRounding = 4.0f;
    s.FrameRounding = 3.0f;
    s.GrabRounding = 3.0f;
    s.Colors[ImGuiCol_WindowBg] = ImVec4(0.11f, 0.115f, 0.13f, 1.0f);
}

}  // namespace

int runEditor(const AppOptions& options) {
    glfwSetErrorCallback(glfwError);
    if (!glfwInit()) return 3;
    glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
    glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
    glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
    GLFWwindow* window = glfwCreateWindow(options.width, options.height, "Kabel", nullptr, nullptr);
    if (!window) {
        glfwTerminate();
        return 3;
    }
    glfwMakeContextCurrent(window);
    glfwSwapInterval(1);
    glfwSetWindowRefreshCallback(window, windowRefresh);
    glfwSetCursorPosCallback(window, inputEvent);
    glfwSetScrollCallback(window, inputEvent);
    glfwSetMouseButtonCallback(window, [](GLFWwindow*, int, int, int) { gInput = true; });
    glfwSetKeyCallback(window, [](GLFWwindow*, int, int, int, int) { gInput = true; });
    glfwSetCharCallback(window, [](GLFWwindow*, unsigned) { gInput = true; });
    glfwSetCursorEnterCallback(window, [](GLFWwindow*, int) { gInput = true; });
    glfwSetWindowFocusCallback(window, [](GLFWwindow*, int) { gInput = true; });
    glfwSetFramebufferSizeCallback(window, [](GLFWwindow*, int, int) { gRefresh.store(true); });
    IMGUI_CHECKVERSION();
    ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    io.IniFilename = nullptr;  // window layout is not persisted: the editor lays itself out
    loadFont(io);
    style();
    ImGui_ImplGlfw_InitForOpenGL(window, true);
    ImGui_ImplOpenGL3_Init("#version 330 core");

    // SIGINT/SIGTERM end the editor as a crash would not: an autosave of unsaved work first
    // (kept as the recovery file), then a clean stop of the audio. SIGPIPE is ignored (a dying
    // JACK server must not kill the editor).
    gStop.store(false);
    struct sigaction stop {};
    stop.sa_handler = &kabelEditorStop;
    sigemptyset(&stop.sa_mask);
    struct sigaction oldInt {
    }, oldTerm{}, oldPipe{};
    sigaction(SIGINT, &stop, &oldInt);
    sigaction(SIGTERM, &stop, &oldTerm);
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, &oldPipe);

    int rc = 0;
    {
        Editor editor(options.editor);
        const Clock::time_point started = Clock::now();
        Clock::time_point lastFrame = Clock::now() - std::chrono::seconds(1);
        int eagerFrames = 5;  // draw a few frames after input: ImGui settles a frame late
        int frames = 0;
        std::string title;
        std::string idleKey;
        while (!editor.quitRequested()) {
            if (gStop.load()) {
                editor.autosaveNow();
                break;
            }
            // Sleep until input, the live-view rate, or the status refresh.
            glfwWaitEventsTimeout(eagerFrames > 0 ? 0.0 : editor.animating() ? 1.0 / 30.0 : 0.5);
            if (glfwWindowShouldClose(window)) {
                glfwSetWindowShouldClose(window, GLFW_FALSE);
                editor.requestClose();
            }
            // Input since the last frame? (GLFW callbacks fed ImGui's io.)
            const bool input =
                std::exchange(gInput, false) || io.MouseDelta.x != 0.0f || io.MouseDelta.y != 0.0f || io.MouseWheel != 0.0f ||
                std::any_of(std::begin(io.MouseDown), std::end(io.MouseDown), [](bool b) { return b; }) ||
                io.InputQueueCharacters.Size > 0 || std::any_of(std::begin(io.KeysDown), std::end(io.KeysDown), [](bool b) { return b; });
            eagerFrames = input ? 5 : std::max(0, eagerFrames - 1);
            // Idle (no input, nothing moving by itself): draw only when what is shown changed.
            if (eagerFrames == 0 && !editor.animating() && !gRefresh.exchange(false) && options.screenshot.empty()) {
                editor.tick();
                const std::string key = editor.idleKey();
                if (key == idleKey) continue;
                idleKey = key;
            }
            // Cap at 60 frames per second.
            const auto sinceLast = Clock::now() - lastFrame;
            if (sinceLast < std::chrono::microseconds(16600)) std::this_thread::sleep_for(std::chrono::microseconds(16600) - sinceLast);
            lastFrame = Clock::now();

            ImGui_ImplOpenGL3_NewFrame();
            ImGui_ImplGlfw_NewFrame();
            ImGui::NewFrame();
            editor.frame();
            ImGui::Render();
            int width = 0, height = 0;
            glfwGetFramebufferSize(window, &width, &height);
            glViewport(0, 0, width, height);
            glClearColor(0.1f, 0.1f, 0.12f, 1.0f);
            glClear(GL_COLOR_BUFFER_BIT);
            ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
            ++frames;
            std::optional<std::string> shot = editor.takeScreenshotRequest();
            if (!options.screenshot.empty() && frames == options.screenshotFrames) shot = options.screenshot;
            if (shot) {
                if (writeScreenshot(*shot, width, height))
                    std::printf("SCREENSHOT %s %dx%d\n", shot->c_str(), width, height);
                else
                    std::fprintf(stderr, "kabel: could not write %s\n", shot->c_str());
                std::fflush(stdout);
                if (!options.screenshot.empty() && *shot == options.screenshot) break;
            }
            glfwSwapBuffers(window);
            if (editor.windowTitle() != title) {
                title = editor.windowTitle();
                glfwSetWindowTitle(window, title.c_str());
            }
            if (options.seconds > 0.0 && std::chrono::duration<double>(Clock::now() - started).count() >= options.seconds) break;
        }
    }
    ImGui_ImplOpenGL3_Shutdown();
    ImGui_ImplGlfw_Shutdown();
    ImGui::DestroyContext();
    glfwDestroyWindow(window);
    glfwTerminate();
    sigaction(SIGINT, &oldInt, nullptr);
    sigaction(SIGTERM, &oldTerm, nullptr);
    sigaction(SIGPIPE, &oldPipe, nullptr);
    return rc;
}

double benchEditorFrameMs(int modules, int frames, bool fit, int width, int height) {
    // A patch of `modules` modules in a grid, each fed by its left neighbour.
    static const char* kTypes[] = {"sine", "saw", "svf", "vca", "lfo", "adsr", "mixer", "delay"};
    Patch patch;
    const int columns = 25;
    for (int i = 0; i < modules; ++i) {
        ModuleSpec m;
        m.type = kTypes[i % 8];
        m.id = patch.uniqueModuleId(m.type);
        m.x = static_cast<float>((i % columns) * 220);
        m.y = static_cast<float>((i / columns) * 260);
        patch.modules.push_back(m);
        if (i % columns != 0) patch.cables.push_back(CableSpec{{patch.modules[static_cast<std::size_t>(i - 1)].id, "out"}, {m.id, "in"}});
    }
    // Only cables whose ports exist (every chosen type has "out"; some lack "in").
    std::erase_if(patch.cables, [&](const CableSpec& c) {
        const ModuleDescriptor* d = Registry::global().find(patch.findModule(c.to.module)->type);
        const ModuleDescriptor* s = Registry::global().find(patch.findModule(c.from.module)->type);
        return !d || !s || d->inputIndex(c.to.port) < 0 || s->outputIndex(c.from.port) < 0;
    });
    const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("kabel-bench-ui-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    savePatchFile(dir / "bench.kabel", patch);

    ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    io.IniFilename = nullptr;
    io.DisplaySize = ImVec2(static_cast<float>(width), static_cast<float>(height));
    io.BackendFlags |= ImGuiBackendFlags_RendererHasVtxOffset;  // as the OpenGL3 renderer: draw lists past 64k vertices
    unsigned char* pixels = nullptr;
    int w = 0, h = 0;
    io.Fonts->GetTexDataAsRGBA32(&pixels, &w, &h);  // builds the font atlas (no GPU)
    std::vector<double> times;
    {
        EditorOptions options;
        options.patchPath = (dir / "bench.kabel").string();
        options.audio.useDevice = false;
        options.autosave = false;
        options.offerRecovery = false;
        options.configDirectory = dir;
        Editor editor(options);
        for (int f = 0; f < frames + 5; ++f) {
            io.DeltaTime = 1.0f / 60.0f;
            io.MousePos = ImVec2(static_cast<float>(width) * 0.3f, static_cast<float>(height) * 0.4f);
            if (f == 2 && fit) editor.zoomToFit();  // every module on screen
            const auto start = Clock::now();
            ImGui::NewFrame();
            editor.frame();
            ImGui::Render();
            const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
            if (f >= 5) times.push_back(ms);
        }
    }
    ImGui::DestroyContext();
    std::filesystem::remove_all(dir);
    std::sort(times.begin(), times.end());
    return times.empty() ? 0.0 : times[times.size() / 2];
}

}  // namespace kabel::editor
