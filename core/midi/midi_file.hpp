// Standard MIDI File reader (formats 0 and 1) for offline rendering and tests.
//
// Design note. The file is untrusted input: every length is checked against the bytes that are
// really there, and a malformed file is rejected with an InputError naming the file, the byte
// offset and the reason ("song.mid: byte 22: track chunk 1 is 'mTrk', expected 'MTrk'").
// Chunks with other ids (the standard's "alien" chunks) are skipped; a header longer than 6
// bytes has its extra bytes skipped, as the standard asks. Events: running status within a
// track, meta events skipped except Set Tempo (which builds the tempo map, from any track), sysex
// (F0 and F7 "escape" forms) kept with their bytes. Times: ticks through the tempo map (default
// 120 bpm) for metrical division, or SMPTE frames x ticks per frame. Format 2 (independent
// sequences) parses but is not playable: toTimeline() rejects it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace kabel {

struct MidiFileEvent {
    std::uint64_t tick = 0;  // absolute, in the file's division
    double seconds = 0.0;    // through the tempo map
    int track = 0;
    std::uint8_t status = 0;  // 0x80..0xEF, or 0xF0 for sysex (bytes in `sysex`, F0 ... F7)
    std::uint8_t data1 = 0;
    std::uint8_t data2 = 0;
    std::vector<std::uint8_t> sysex;
};

struct MidiFile {
    int format = 0;
    int trackCount = 0;
    int division = 96;  // ticks per quarter note; negative: SMPTE (raw 16-bit value as int16)
    int tempoChanges = 0;
    double lengthSeconds = 0.0;  // time of the last event (End of Track included)
    /// Channel and sysex events of every track, sorted by time (ties: track order, then file order).
    std::vector<MidiFileEvent> events;
};

/// Parses SMF bytes; `name` is used in error messages. Throws InputError for a malformed file.
MidiFile parseMidiFile(std::span<const std::uint8_t> bytes, const std::string& name);
/// Reads and parses a file. Throws InputError (also when it cannot be read).
MidiFile readMidiFile(const std::filesystem::path& path);

}  // namespace kabel
