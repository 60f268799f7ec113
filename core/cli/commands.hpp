// The kabel command-line tools. Each returns the process exit code; errors go to stderr.
#pragma once

#include <string>
#include <vector>

namespace kabel::cli {

/// `kabel modules [-v]`: every registered module type by category; -v adds help, ports and params.
int listModules(bool verbose);
/// `kabel modules --markdown`: the module reference (docs/modules.md).
int listModulesMarkdown();

/// `kabel validate PATCH`: loads and checks a patch; prints "PATH: ok (...)" or the error.
int validatePatch(const std::string& path);

struct TuneCommand {
    std::string scale;  // a .scl/.ascl file or a catalogue id
    std::string kbm;    // optional .kbm file
    bool csv = false;
    bool list = false;  // list the catalogue instead
    // Exports instead of the table (each written atomically; none may be the input file).
    std::string exportScl;  // .scl, or .ascl (with names, reference pitch and source) by extension
    std::string exportKbm;  // the keyboard map in use (the default linear one without --kbm)
    std::string exportMts;  // MIDI Tuning Standard bulk dump (.syx): all 128 keys
};
/// `kabel tune SCALE [--kbm MAP] [--csv] [--export-scl F] [--export-kbm F] [--export-mts F]` / `kabel tune --list`:
/// the 128-key table of a tuning (or its export as .scl/.ascl, .kbm and MTS sysex), or the catalogue.
int tuneCommand(const TuneCommand& options);

struct RenderCommand {
    std::string patch;
    std::string output;
    double seconds = 10.0;
    double sampleRate = 48000.0;
    int blockFrames = 64;
    int channels = 2;
    std::string format = "float";
    std::string midi;      // a Standard MIDI File to play into the patch ("" for none)
    int threads = 0;       // EngineConfig::threads: 0 one per core, 1 serial
    bool progress = true;  // a progress bar when stderr is a terminal
    bool quiet = false;
};
/// `kabel render PATCH -o out.wav --seconds N ...`
int renderCommand(const RenderCommand& options);

struct PlayCommand {
    std::string patch;
    double seconds = 0.0;     // 0: until Ctrl-C / SIGTERM
    std::string device;       // --audio: substring of a device name, or its index; empty: the default output
    std::string hostApi;      // --host: substring of a host API name ("jack", "alsa"); empty: any
    double sampleRate = 0.0;  // --rate; 0: the device's (JACK: the server's)
    int outputChannels = 0;   // --channels; 0: stereo
    int inputChannels = -1;   // --inputs; -1: as many as the patch's `in` modules read
    int bufferFrames = 0;     // device buffer; 0: the device's default
    int blockFrames = 64;
    int threads = 0;  // EngineConfig::threads: 0 one per core, 1 serial
    bool quiet = false;
    std::vector<std::string> midiPorts;  // --midi sources to connect (engine MIDI ports 1..n); "list": print them
    bool midiVirtual = false;            // --midi-virtual: accepted; the virtual input is always created
    int oscPort = 0;                     // --osc PORT: OSC control of every param (docs/osc.md); 0: off
    std::string oscBind = "127.0.0.1";   // --osc-bind ADDR: where the OSC socket listens (0.0.0.0 warns)
    bool saveMap = false;                // --save-map: write the MIDI map back into the patch file on exit
    bool link = false;                   // --link: join the Ableton Link session (UDP on every interface)
};
/// `kabel play PATCH`: runs a patch live on the audio device without the editor.
int playCommand(const PlayCommand& options);

/// `kabel devices`: the audio devices PortAudio sees.
int listDevices();

struct BenchCommand {
    std::vector<std::string> workloads;  // empty: W1..W4
    double seconds = 60.0;
    int runs = 5;
    bool peers = false;
    std::vector<std::string> peerEngines;  // empty: pd, supercollider, csound
    std::string peersDir;                  // empty: ../shared/bench/peers found from the executable
    std::string json;                      // write results as JSON here
    std::string self;                      // path of the kabel executable (for timing whole processes)
    std::string writePatches;              // only write W1..W4 as .kabel files into this folder
    int threads = 0;                       // --threads for every Kabel render (0: one per core)
};
/// `kabel bench`: real-time factors of the standard workloads (and the peers, side by side).
int benchCommand(const BenchCommand& options);

/// `kabel bench --modules [FILTER]`: ns per sample per channel of every module type (whose id
/// contains FILTER), mono and 16 channels.
int moduleCosts(const std::string& filter);

}  // namespace kabel::cli
