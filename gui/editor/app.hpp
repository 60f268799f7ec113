// The editor's window: GLFW + OpenGL 3 + Dear ImGui around an Editor (editor.hpp).
//
// Design note. Low power: the loop sleeps in glfwWaitEventsTimeout and draws a frame only after
// input, for a few frames after it (ImGui settles hover and popups a frame late), and at 30
// frames per second while a live view moves (Editor::animating); otherwise it wakes twice a
// second to refresh the status line. Frames are capped at 60 per second (Xvfb and some drivers
// have no vblank), so an idle editor leaves the CPU and GPU alone and never competes with the
// audio thread.
#pragma once

#include <string>

#include "gui/editor/editor.hpp"

namespace kabel::editor {

struct AppOptions {
    EditorOptions editor;
    std::string screenshot;  // write a PNG of the window after `screenshotFrames` frames, then quit
    int screenshotFrames = 10;
    double seconds = 0.0;  // quit after this long (tests), 0 = run until closed
    int width = 1280, height = 800;
};

/// Runs the editor until the window closes. Returns 0, or 3 when no window can be opened (no
/// display, no OpenGL 3.3): the caller then falls back to playing or rendering without it.
int runEditor(const AppOptions& options);

/// `kabel bench`: CPU time to build the UI of a patch of `modules` modules in a window of
/// width x height (no renderer, no audio device: the silent clock), median over `frames` frames;
/// with `fit`, zoomed out so every module is on screen, else at the default view.
double benchEditorFrameMs(int modules, int frames, bool fit, int width = 1600, int height = 1000);

}  // namespace kabel::editor
