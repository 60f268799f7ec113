// The editor's files outside the patch: autosave and crash recovery, recent files, settings.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/module/registry.hpp"
#include "core/patch/patch_file.hpp"
#include "core/util/error.hpp"
#include "gui/model/recovery.hpp"
#include "gui/model/user_files.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace kabel;
using namespace kabel::editor;
using kabel::test::readFile;
using kabel::test::TempDir;
using kabel::test::writeFile;

namespace {

// Above the largest PID Linux allows (pid_max is at most 2^22 = 4194304): never a live process.
constexpr long kDeadPid = 4194305;

Patch samplePatch() {
    Patch p;
    p.meta.title = "Stairwell, take 3";
    p.meta.extraJson = R"({"tempo":92})";
    ModuleSpec osc;
    osc.id = "osc";
    osc.type = "saw";
    osc.params = {{"freq", 110.123456789}, {"octave", -1}};
    osc.x = 12.5f;
    osc.y = -40.25f;
    osc.stateJson = R"({"seq":[1,0,1,1],"name":"ü"})";
    osc.extraJson = R"({"color":"#ff8800"})";
    ModuleSpec ghost;
    ghost.id = "ghost";
    ghost.type = "from-the-future";
    ghost.params = {{"depth", 0.3}};
    ghost.extraParamsJson = R"({"mode":"wide"})";
    p.modules = {osc, ghost};
    p.cables = {CableSpec{{"osc", "out"}, {"ghost", "in"}, R"({"colour":2})"}};
    MidiMapping m;
    m.channel = 2;
    m.number = 74;
    m.module = "osc";
    m.param = "freq";
    m.min = 50.0;
    m.max = 5000.0;
    m.curve = "exponential";
    p.midiMap = {m};
    p.extraJson = R"({"future_top":[1,2,3]})";
    return p;
}

/// A copy of `written` (a real recovery file) as if another process had written it.
void writeAs(const fs::path& written, const fs::path& copy, long pid, std::optional<unsigned long long> startTicks = std::nullopt,
             std::optional<std::string> bootId = std::nullopt) {
    json doc = json::parse(readFile(written));
    doc["pid"] = pid;
    if (startTicks)
        doc["start_ticks"] = *startTicks;
    else
        doc.erase("start_ticks");
    if (bootId) doc["boot_id"] = *bootId;
    writeFile(copy, doc.dump());
}

const Registry& noTypes() {
    static const Registry registry;
    return registry;
}

/// Sets an environment variable for one scope.
struct ScopedEnv {
    std::string name;
    std::optional<std::string> old;
    ScopedEnv(std::string n, const std::string& value) : name(std::move(n)) {
        if (const char* v = ::getenv(name.c_str())) old = v;
        ::setenv(name.c_str(), value.c_str(), 1);
    }
    ~ScopedEnv() {
        if (old)
            ::setenv(name.c_str(), old->c_str(), 1);
        else
            ::unsetenv(name.c_str());
    }
};

}  // namespace

TEST_CASE("Autosave writes a recovery file that a crashed process leaves for the next start", "[editor][recovery]") {
    TempDir tmp;
    const fs::path dir = tmp.path / "state" / "recovery";  // created on demand
    const std::string original = (tmp.path / "My Patches" / "Rāga Yaman — live.kabel").string();
    const Patch patch = samplePatch();

    Autosave autosave(dir);
    autosave.write(patch, original);
    REQUIRE(fs::is_regular_file(autosave.file()));
    const std::string name = autosave.file().filename().string();
    CHECK(name.rfind("kabel-recovery-" + std::to_string(::getpid()) + "-", 0) == 0);

    const json doc = json::parse(readFile(autosave.file()));
    CHECK(doc["format"] == "kabel-recovery");
    CHECK(doc["version"] == 1);
    CHECK(doc["original"] == original);
    CHECK(doc["pid"] == ::getpid());
    CHECK(doc["written"].get<std::string>().size() == 20);  // 2026-11-22T04:30:00Z

    std::vector<std::string> problems;
    SECTION("the file of a running process is not an orphan") {
        CHECK(Autosave::findOrphans(dir, problems).empty());
        CHECK(problems.empty());
    }
    SECTION("a dead process's file is found, carries its original path and loads the same patch") {
        const fs::path orphan = dir / ("kabel-recovery-" + std::to_string(kDeadPid) + "-0badf00d.json");
        writeAs(autosave.file(), orphan, kDeadPid);
        const auto found = Autosave::findOrphans(dir, problems);
        CHECK(problems.empty());
        REQUIRE(found.size() == 1);
        CHECK(found[0].file == orphan);
        CHECK(found[0].originalPath == original);
        CHECK(found[0].title == "Stairwell, take 3");
        CHECK(found[0].pid == kDeadPid);
        CHECK(found[0].written == fs::last_write_time(orphan));
        const Patch loaded = Autosave::load(found[0], noTypes());
        CHECK(serializePatch(loaded) == serializePatch(patch));
        Autosave::dismiss(found[0]);
        CHECK_FALSE(fs::exists(orphan));
        CHECK(Autosave::findOrphans(dir, problems).empty());
    }
    SECTION("a PID reused by another process makes the file an orphan") {
        const auto myTicks = json::parse(readFile(autosave.file()))["start_ticks"].get<unsigned long long>();
        writeAs(autosave.file(), dir / "kabel-recovery-a.json", ::getpid(), myTicks + 1);   // started at another time
        writeAs(autosave.file(), dir / "kabel-recovery-b.json", ::getpid(), myTicks, "0");  // before a reboot
        writeAs(autosave.file(), dir / "kabel-recovery-c.json", ::getpid());                // no start time
        const std::string initName = readFile("/proc/1/comm");
        REQUIRE(initName.rfind("kabel", 0) != 0);
        writeAs(autosave.file(), dir / "kabel-recovery-d.json", 1);  // no start time, not a kabel process
        const auto found = Autosave::findOrphans(dir, problems);
        CHECK(problems.empty());
        std::vector<std::string> names;
        for (const auto& f : found) names.push_back(f.file.filename().string());
        std::sort(names.begin(), names.end());
        // c names this live process without a start time: it counts as a live Kabel exactly when
        // this test binary's name starts with "kabel" (kabel_tests does).
        std::vector<std::string> expected{"kabel-recovery-a.json", "kabel-recovery-b.json", "kabel-recovery-d.json"};
        if (readFile("/proc/self/comm").rfind("kabel", 0) != 0) expected.insert(expected.begin() + 2, "kabel-recovery-c.json");
        CHECK(names == expected);
    }
    SECTION("orphans come newest first") {
        const auto now = fs::file_time_type::clock::now();
        for (int i = 0; i < 3; ++i) {
            const fs::path f = dir / ("kabel-recovery-" + std::to_string(kDeadPid) + "-" + std::to_string(i) + ".json");
            writeAs(autosave.file(), f, kDeadPid);
            fs::last_write_time(f, now - std::chrono::hours(10 - i * 4));  // 1 is newer than 0, 2 the newest
        }
        const auto found = Autosave::findOrphans(dir, problems);
        REQUIRE(found.size() == 3);
        CHECK(found[0].file.filename().string().find("-2.json") != std::string::npos);
        CHECK(found[1].file.filename().string().find("-1.json") != std::string::npos);
        CHECK(found[2].file.filename().string().find("-0.json") != std::string::npos);
    }
    SECTION("discard removes this process's file") {
        autosave.discard();
        CHECK_FALSE(fs::exists(autosave.file()));
        CHECK(fs::is_empty(dir));
        autosave.discard();  // twice is fine
    }
    SECTION("a later write replaces the file atomically and leaves no temporary") {
        Patch edited = patch;
        edited.modules[0].params["freq"] = 220;
        autosave.write(edited, "");
        CHECK(tmp.path / "state" / "recovery" / name == autosave.file());
        std::vector<std::string> files;
        for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path().filename().string());
        CHECK(files == std::vector<std::string>{name});
        const json again = json::parse(readFile(autosave.file()));
        CHECK(again["original"] == "");
        CHECK(again["patch"]["modules"][0]["params"]["freq"] == 220);
    }
}

TEST_CASE("Damaged recovery files are set aside with a message and never block the rest", "[editor][recovery]") {
    TempDir tmp;
    Autosave live(tmp.path);
    live.write(samplePatch(), "/music/a.kabel");
    const fs::path good = tmp.path / "kabel-recovery-4194305-good.json";
    writeAs(live.file(), good, kDeadPid);
    live.discard();
    writeFile(tmp.path / "kabel-recovery-4194306-junk.json", "{\"format\": \"kabel-recov");
    json badPatch = json::parse(readFile(good));
    badPatch["patch"]["cables"] = json::array({{{"from", "nowhere.out"}, {"to", "osc.in"}}});
    writeFile(tmp.path / "kabel-recovery-4194307-badpatch.json", badPatch.dump());
    writeFile(tmp.path / "kabel-recovery-4194308-empty.json", "");
    writeFile(tmp.path / "unrelated.json", "not ours, left alone");

    std::vector<std::string> problems;
    const auto found = Autosave::findOrphans(tmp.path, problems);
    REQUIRE(found.size() == 1);
    CHECK(found[0].file == good);
    CHECK(found[0].originalPath == "/music/a.kabel");
    REQUIRE(problems.size() == 3);
    std::sort(problems.begin(), problems.end());
    CHECK(problems[0] == (tmp.path / "kabel-recovery-4194306-junk.json").string() +
                             ": not valid JSON (set aside as kabel-recovery-4194306-junk.json.corrupt)");
    CHECK(problems[1].find("kabel-recovery-4194307-badpatch.json: the patch is damaged: /cables/0/from: ") != std::string::npos);
    CHECK(problems[1].find("'nowhere'") != std::string::npos);
    CHECK(problems[1].find("set aside as kabel-recovery-4194307-badpatch.json.corrupt") != std::string::npos);
    CHECK(problems[2].find("empty.json: not valid JSON") != std::string::npos);
    CHECK(tmp.names() == std::vector<std::string>{"kabel-recovery-4194305-good.json", "kabel-recovery-4194306-junk.json.corrupt",
                                                  "kabel-recovery-4194307-badpatch.json.corrupt",
                                                  "kabel-recovery-4194308-empty.json.corrupt", "unrelated.json"});
    // Next start: nothing more to complain about.
    problems.clear();
    CHECK(Autosave::findOrphans(tmp.path, problems).size() == 1);
    CHECK(problems.empty());
    // A missing directory is simply no recovery.
    CHECK(Autosave::findOrphans(tmp.path / "none", problems).empty());
    CHECK(problems.empty());
    // A file that vanished between listing and loading is an InputError naming it.
    fs::remove(good);
    CHECK_THROWS_AS(Autosave::load(found[0], noTypes()), InputError);
    try {
        Autosave::load(found[0], noTypes());
    } catch (const InputError& e) {
        CHECK(e.file() == good.string());
    }
}

TEST_CASE("A recovery that crashed is set aside instead of being offered again", "[editor][recovery]") {
    TempDir tmp;
    Autosave autosave(tmp.path);
    autosave.write(samplePatch(), "/music/b.kabel");
    const fs::path orphan = tmp.path / "kabel-recovery-4194305-y.json";
    writeAs(autosave.file(), orphan, kDeadPid);
    const fs::path orphanSource = tmp.path / "source.json";  // not a recovery file name
    fs::copy_file(orphan, orphanSource);
    autosave.discard();
    std::vector<std::string> problems;
    const auto found = Autosave::findOrphans(tmp.path, problems);
    REQUIRE(found.size() == 1);

    // This process is recovering it: another editor starting now leaves it alone.
    const Patch loaded = Autosave::load(found[0], noTypes());
    CHECK(loaded.modules.size() == 2);
    const fs::path marker = tmp.path / "kabel-recovery-4194305-y.json.recovering";
    REQUIRE(fs::exists(marker));
    CHECK(json::parse(readFile(marker))["pid"] == ::getpid());
    CHECK(Autosave::findOrphans(tmp.path, problems).empty());
    CHECK(problems.empty());

    SECTION("a load that fails cleanly removes its marker and keeps the file on offer") {
        Autosave::dismiss(found[0]);
        writeAs(orphanSource, orphan, kDeadPid);
        json damaged = json::parse(readFile(orphan));
        damaged["patch"]["cables"][0]["from"] = "nowhere.out";
        writeFile(orphan, damaged.dump());  // damaged after findOrphans looked at it
        CHECK_THROWS_AS(Autosave::load(found[0], noTypes()), InputError);
        CHECK(tmp.names() == std::vector<std::string>{"kabel-recovery-4194305-y.json", "source.json"});
    }
    SECTION("dismissed after recovering: file and marker are gone") {
        Autosave::dismiss(found[0]);
        CHECK(tmp.names() == std::vector<std::string>{"source.json"});
    }
    SECTION("the recovering process died: the next start sets the file aside with a message") {
        json dead = json::parse(readFile(marker));
        dead["pid"] = kDeadPid;
        writeFile(marker, dead.dump());
        CHECK(Autosave::findOrphans(tmp.path, problems).empty());
        REQUIRE(problems.size() == 1);
        CHECK(problems[0] ==
              orphan.string() +
                  ": Kabel stopped while recovering this file last time (set aside as kabel-recovery-4194305-y.json.crashed)");
        CHECK(tmp.names() == std::vector<std::string>{"kabel-recovery-4194305-y.json.crashed", "source.json"});
    }
}

TEST_CASE("Recovery keeps an original path that is not UTF-8 byte for byte", "[editor][recovery]") {
    TempDir tmp;
    Autosave autosave(tmp.path);
    const std::string original = "/music/caf\xe9 \xff.kabel";  // Latin-1 bytes in a Linux file name
    autosave.write(samplePatch(), original);
    const fs::path orphan = tmp.path / "kabel-recovery-4194305-x.json";
    writeAs(autosave.file(), orphan, kDeadPid);
    std::vector<std::string> problems;
    const auto found = Autosave::findOrphans(tmp.path, problems);
    REQUIRE(found.size() == 1);
    CHECK(found[0].originalPath == original);
    CHECK(problems.empty());
}

TEST_CASE("Recovery and config directories follow the XDG variables", "[editor][recovery]") {
    {
        ScopedEnv state("XDG_STATE_HOME", "/srv/state");
        ScopedEnv config("XDG_CONFIG_HOME", "/srv/config");
        CHECK(recoveryDirectory() == fs::path("/srv/state/kabel/recovery"));
        CHECK(configDirectory() == fs::path("/srv/config/kabel"));
    }
    ScopedEnv home("HOME", "/home/perf");
    ScopedEnv state("XDG_STATE_HOME", "relative/is/ignored");
    ScopedEnv config("XDG_CONFIG_HOME", "");
    CHECK(recoveryDirectory() == fs::path("/home/perf/.local/state/kabel/recovery"));
    CHECK(configDirectory() == fs::path("/home/perf/.config/kabel"));
}

TEST_CASE("Recent files keep ten, most recent first, one entry per file", "[editor][recent]") {
    TempDir tmp;
    const fs::path listFile = tmp.path / "config" / "recent.json";
    std::vector<std::string> patches;
    for (int i = 0; i < 12; ++i) {
        patches.push_back((tmp.path / ("p" + std::to_string(i) + ".kabel")).string());
        writeFile(patches.back(), "{}");
    }
    {
        RecentFiles recent(listFile);
        CHECK(recent.list().empty());
        CHECK(recent.problem().empty());
        for (const auto& p : patches) recent.add(p);
        REQUIRE(recent.list().size() == 10);
        CHECK(recent.list().front() == patches[11]);
        CHECK(recent.list().back() == patches[2]);
        // The same file under another spelling moves to the front instead of appearing twice.
        recent.add((tmp.path / "config" / ".." / "p5.kabel").string());
        REQUIRE(recent.list().size() == 10);
        CHECK(recent.list()[0] == patches[5]);
        CHECK(recent.list()[1] == patches[11]);
        CHECK(std::count(recent.list().begin(), recent.list().end(), patches[5]) == 1);
        // So does a symbolic link to it; an empty path is ignored.
        fs::create_symlink(patches[7], tmp.path / "link.kabel");
        recent.add((tmp.path / "link.kabel").string());
        recent.add("");
        REQUIRE(recent.list().size() == 10);
        CHECK(recent.list()[0] == patches[7]);
        CHECK(recent.list()[1] == patches[5]);
        CHECK(std::count(recent.list().begin(), recent.list().end(), patches[7]) == 1);
        CHECK(recent.problem().empty());
    }
    RecentFiles reloaded(listFile);
    CHECK(reloaded.list().size() == 10);
    CHECK(reloaded.list()[0] == patches[7]);

    fs::remove(patches[11]);
    fs::remove(patches[3]);
    RecentFiles withoutMissing(listFile);
    CHECK(withoutMissing.list().size() == 8);
    CHECK(withoutMissing.list()[0] == patches[7]);
    CHECK(withoutMissing.list()[1] == patches[5]);
    CHECK(withoutMissing.list()[2] == patches[10]);
    CHECK(std::find(withoutMissing.list().begin(), withoutMissing.list().end(), patches[3]) == withoutMissing.list().end());

    withoutMissing.remove(patches[7]);
    CHECK(RecentFiles(listFile).list()[0] == patches[5]);
}

TEST_CASE("A bad recent-files list is ignored with a message and replaced on the next add", "[editor][recent]") {
    TempDir tmp;
    const fs::path listFile = tmp.path / "recent.json";
    writeFile(tmp.path / "a.kabel", "{}");
    for (const std::string bad :
         {"[1,2", R"({"format": "kabel-settings", "version": 1})", R"({"format": "kabel-recent", "version": 1, "files": 3})"}) {
        INFO(bad);
        writeFile(listFile, bad);
        RecentFiles recent(listFile);
        CHECK(recent.list().empty());
        CHECK(recent.problem().rfind(listFile.string() + ": ", 0) == 0);
        CHECK(recent.problem().find("(recent files ignored)") != std::string::npos);
    }
    RecentFiles recent(listFile);
    recent.add((tmp.path / "a.kabel").string());
    CHECK(recent.problem().empty());
    RecentFiles reloaded(listFile);
    CHECK(reloaded.problem().empty());
    CHECK(reloaded.list() == std::vector<std::string>{(tmp.path / "a.kabel").string()});

    // A write that cannot happen is reported, not thrown.
    writeFile(tmp.path / "blocker", "a file where a folder should be");
    RecentFiles unwritable(tmp.path / "blocker" / "recent.json");
    unwritable.add((tmp.path / "a.kabel").string());
    CHECK_FALSE(unwritable.problem().empty());
    CHECK(unwritable.list().size() == 1);
}

TEST_CASE("Editor settings round-trip and bad files fall back to defaults", "[editor][settings]") {
    TempDir tmp;
    const fs::path file = tmp.path / "kabel" / "settings.json";
    std::string problem = "stale";

    const EditorSettings defaults = loadSettings(file, problem);
    CHECK(problem.empty());
    CHECK(defaults.audioDevice.empty());
    CHECK(defaults.bufferFrames == 0);
    CHECK(defaults.uiScale == 1.0f);
    CHECK(defaults.educatorMode);

    EditorSettings s;
    s.audioDevice = "Scarlett 2i2 USB: Audio (hw:1,0)";
    s.hostApi = "JACK Audio Connection Kit";
    s.bufferFrames = 128;
    s.midiInputs = {"nanoKONTROL2", "Arturia KeyStep 37 — MIDI 1"};
    s.uiScale = 1.1f;
    s.educatorMode = false;
    saveSettings(file, s);
    const EditorSettings back = loadSettings(file, problem);
    CHECK(problem.empty());
    CHECK(back.audioDevice == s.audioDevice);
    CHECK(back.hostApi == s.hostApi);
    CHECK(back.bufferFrames == 128);
    CHECK(back.midiInputs == s.midiInputs);
    CHECK(back.uiScale == 1.1f);
    CHECK_FALSE(back.educatorMode);

    SECTION("a file that is not settings gives the defaults and a message") {
        writeFile(file, "{\"format\": \"kabel-settings\", ");
        const EditorSettings bad = loadSettings(file, problem);
        CHECK(problem == file.string() + ": not valid JSON (default settings used)");
        CHECK(bad.educatorMode);
        CHECK(bad.audioDevice.empty());
        writeFile(file, R"({"format": "kabel-settings", "version": 7})");
        loadSettings(file, problem);
        CHECK(problem == file.string() + ": unsupported \"version\" (this Kabel reads 1) (default settings used)");
    }
    SECTION("bad fields fall back alone") {
        writeFile(file, R"({"format": "kabel-settings", "version": 1, "audio_device": "pulse", "buffer_frames": -64,
                            "ui_scale": 40, "midi_inputs": ["a", 2], "educator_mode": false, "unknown": 1})");
        const EditorSettings partly = loadSettings(file, problem);
        CHECK(partly.audioDevice == "pulse");
        CHECK_FALSE(partly.educatorMode);
        CHECK(partly.bufferFrames == 0);
        CHECK(partly.uiScale == 1.0f);
        CHECK(partly.midiInputs.empty());
        CHECK(problem == file.string() + ": ignored bad values for buffer_frames, midi_inputs, ui_scale (defaults used)");
    }
}
