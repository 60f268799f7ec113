// `kabel devices`: the audio devices PortAudio sees, one line each; `*` marks the output
// `kabel play` uses by default. Exit code 0 (also when there are none), 2 if PortAudio fails.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "core/cli/commands.hpp"
#include "core/io/audio_device.hpp"

namespace kabel::cli {

int listDevices() {
    std::vector<AudioDeviceInfo> devices;
    try {
        devices = listAudioDevices();
    } catch (const AudioDeviceError& e) {
        std::fprintf(stderr, "kabel devices: %s\n", e.what());
        return 2;
    }
    if (devices.empty()) {
        std::printf(
            "no audio devices found\n"
            "Kabel plays through JACK (or ALSA). Without a sound card, start a JACK server first, e.g.\n"
            "  jackd -d dummy -r 48000 -p 256 &\n"
            "and run `kabel devices` again (a server started under another name needs JACK_DEFAULT_SERVER=NAME).\n");
        return 0;
    }
    std::size_t nameWidth = 6, apiWidth = 8;
    for (const AudioDeviceInfo& d : devices) {
        nameWidth = std::max(nameWidth, d.name.size());
        apiWidth = std::max(apiWidth, d.hostApi.size());
    }
    std::printf("    #  %-*s  %-*s   in  out  rate\n", static_cast<int>(nameWidth), "device", static_cast<int>(apiWidth), "host API");
    for (const AudioDeviceInfo& d : devices)
        std::printf("  %c%2d  %-*s  %-*s  %3d  %3d  %.0f Hz\n", d.defaultOutput ? '*' : ' ', d.index, static_cast<int>(nameWidth),
                    d.name.c_str(), static_cast<int>(apiWidth), d.hostApi.c_str(), d.maxInputChannels, d.maxOutputChannels,
                    d.defaultSampleRate);
    std::printf("* = default output for `kabel play` (choose another with --audio NAME or --audio INDEX, or a host API with --host)\n");
    return 0;
}

}  // namespace kabel::cli
