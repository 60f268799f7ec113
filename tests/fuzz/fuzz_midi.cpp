// libFuzzer target for core/midi: the MIDI byte-stream parser and the Standard MIDI File reader.
// The first byte chooses: even = the rest is a live byte stream (fed in pieces whose sizes come
// from the selector), odd = the rest is a .mid file. An InputError is the expected answer to a bad
// file; anything else (a crash, a sanitizer report, another exception, a broken invariant) is a bug.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/midi/midi_file.hpp"
#include "core/midi/midi_parser.hpp"
#include "core/util/error.hpp"

namespace {

void check(bool ok) {
    if (!ok) __builtin_trap();
}

void parseStream(std::uint8_t selector, const std::uint8_t* data, std::size_t size) {
    kabel::MidiParser parser(64);  // small, so overflow is reached
    const std::size_t piece = 1 + (selector >> 1) % 17;
    std::uint64_t delivered = 0;
    auto onMessage = [&](const kabel::MidiMessage& m) {
        ++delivered;
        check(m.status >= 0x80);
        check(m.data1 < 0x80 && m.data2 < 0x80);
        if (m.status == 0xF0) {
            check(m.sysex != nullptr && m.sysexLength >= 2 && m.sysexLength <= parser.sysexCapacity());
            check(m.sysex[0] == 0xF0 && m.sysex[m.sysexLength - 1] == 0xF7);
            for (std::uint32_t i = 1; i + 1 < m.sysexLength; ++i) check(m.sysex[i] < 0x80);
        } else {
            check(m.sysex == nullptr);
            check(m.status != 0xF4 && m.status != 0xF5 && m.status != 0xF9 && m.status != 0xFD && m.status != 0xF7);
        }
    };
    for (std::size_t at = 0; at < size; at += piece) parser.parse(data + at, std::min(piece, size - at), onMessage);
    check(parser.stats().messages == delivered);
}

void parseFile(const std::uint8_t* data, std::size_t size) {
    try {
        const kabel::MidiFile f = kabel::parseMidiFile(std::span<const std::uint8_t>(data, size), "fuzz.mid");
        check(f.format >= 0 && f.format <= 2);
        double last = 0.0;
        for (const kabel::MidiFileEvent& e : f.events) {
            check(e.seconds >= last && e.seconds <= f.lengthSeconds);
            last = e.seconds;
            check((e.status >= 0x80 && e.status < 0xF0) || (e.status == 0xF0 && e.sysex.size() >= 2));
        }
    } catch (const kabel::InputError&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    if (data[0] & 1)
        parseFile(data + 1, size - 1);
    else
        parseStream(data[0], data + 1, size - 1);
    return 0;
}
