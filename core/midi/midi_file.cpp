#include "core/midi/midi_file.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>

#include "core/midi/midi_event.hpp"
#include "core/util/error.hpp"

namespace kabel {
namespace {

class Reader {
public:
    Reader(std::span<const std::uint8_t> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

    [[noreturn]] void fail(std::size_t at, const std::string& reason) const {
        throw InputError(name_, 0, "byte " + std::to_string(at), reason);
    }

    std::size_t size() const { return bytes_.size(); }
    std::uint8_t at(std::size_t i) const { return bytes_[i]; }

    std::uint32_t be32(std::size_t at) const {
        return (std::uint32_t{bytes_[at]} << 24) | (std::uint32_t{bytes_[at + 1]} << 16) | (std::uint32_t{bytes_[at + 2]} << 8) |
               bytes_[at + 3];
    }
    std::uint16_t be16(std::size_t at) const { return static_cast<std::uint16_t>((bytes_[at] << 8) | bytes_[at + 1]); }
    std::string id(std::size_t at) const {
        std::string s;
        for (std::size_t i = 0; i < 4; ++i) {
            const char c = static_cast<char>(bytes_[at + i]);
            s += (c >= 32 && c < 127) ? c : '?';
        }
        return s;
    }

private:
    std::span<const std::uint8_t> bytes_;
    const std::string& name_;
};

std::string hex(std::uint8_t b) {
    const char* digits = "0123456789ABCDEF";
    return std::string("0x") + digits[b >> 4] + digits[b & 15];
}

std::string tracks(int n) {
    return std::to_string(n) + (n == 1 ? " track" : " tracks");
}

struct TempoChange {
    std::uint64_t tick;
    std::uint32_t microsPerQuarter;
};

// One track chunk's events (body at [begin, end)).
void parseTrack(const Reader& r, std::size_t begin, std::size_t end, int track, std::vector<MidiFileEvent>& out,
                std::vector<TempoChange>& tempos) {
    std::size_t p = begin;
    std::uint64_t tick = 0;
    std::uint8_t running = 0;
    bool ended = false;
    auto need = [&](std::size_t n, const char* what) {
        if (end - p < n) r.fail(p, std::string("track ") + std::to_string(track) + " ends inside " + what);
    };
    auto varLen = [&](const char* what) {
        std::uint32_t v = 0;
        for (int i = 0; i < 4; ++i) {
            need(1, what);
            const std::uint8_t b = r.at(p++);
            v = (v << 7) | (b & 0x7F);
            if (!(b & 0x80)) return v;
        }
        r.fail(p - 4, std::string(what) + " longer than 4 bytes");
    };
    while (p < end && !ended) {
        tick += varLen("a delta time");
        need(1, "an event");
        const std::size_t eventAt = p;
        std::uint8_t status = r.at(p);
        if (status < 0x80) {
            if (running == 0) r.fail(eventAt, "data byte " + hex(status) + " with no running status");
            status = running;
        } else {
            ++p;
        }
        if (status == 0xFF) {
            running = 0;
            need(1, "a meta event");
            const std::uint8_t type = r.at(p++);
            const std::uint32_t length = varLen("a meta event length");
            need(length, "a meta event");
            if (type == 0x51) {
                if (length != 3) r.fail(eventAt, "Set Tempo meta event of length " + std::to_string(length) + ", expected 3");
                const std::uint32_t micros = (std::uint32_t{r.at(p)} << 16) | (std::uint32_t{r.at(p + 1)} << 8) | r.at(p + 2);
                if (micros == 0) r.fail(eventAt, "Set Tempo of 0 microseconds per quarter note");
                tempos.push_back({tick, micros});
            } else if (type == 0x2F) {
                ended = true;
            }
            p += length;
            MidiFileEvent e;  // End of Track also marks the file's length
            if (ended) {
                e.tick = tick;
                e.track = track;
                e.status = 0;  // removed after timing; kept to measure the length
                out.push_back(std::move(e));
            }
        } else if (status == 0xF0 || status == 0xF7) {
            running = 0;
            const std::uint32_t length = varLen("a sysex length");
            need(length, "a sysex event");
            MidiFileEvent e;
            e.tick = tick;
            e.track = track;
            e.status = 0xF0;
            // F0 <len> data (the F0 is implied in the file); F7 <len> data: raw bytes ("escape").
            if (status == 0xF0) e.sysex.push_back(0xF0);
            for (std::uint32_t i = 0; i < length; ++i) e.sysex.push_back(r.at(p + i));
            p += length;
            // Only complete messages F0 ... F7 are delivered; escapes and sysex split across
            // packets are skipped.
            if (e.sysex.size() >= 2 && e.sysex.front() == 0xF0 && e.sysex.back() == 0xF7) out.push_back(std::move(e));
        } else if (status >= 0xF0) {
            r.fail(eventAt, "status byte " + hex(status) + " is not allowed in a MIDI file track");
        } else {
            running = status;
            const int n = midiDataBytes(status);
            need(static_cast<std::size_t>(n), "a channel message");
            MidiFileEvent e;
            e.tick = tick;
            e.track = track;
            e.status = status;
            e.data1 = r.at(p);
            e.data2 = n > 1 ? r.at(p + 1) : 0;
            if (e.data1 > 127 || e.data2 > 127) r.fail(p, "status byte where a data byte was expected");
            p += static_cast<std::size_t>(n);
            out.push_back(std::move(e));
        }
    }
    if (!ended) r.fail(end, "track " + std::to_string(track) + " has no End of Track meta event");
}

}  // namespace

MidiFile parseMidiFile(std::span<const std::uint8_t> bytes, const std::string& name) {
    const Reader r(bytes, name);
    if (r.size() < 14) r.fail(0, "not a MIDI file (" + std::to_string(r.size()) + " bytes, shorter than a header)");
    if (r.id(0) != "MThd") r.fail(0, "not a Standard MIDI File: chunk id '" + r.id(0) + "', expected 'MThd'");
    const std::uint32_t headerLength = r.be32(4);
    if (headerLength < 6) r.fail(4, "header length " + std::to_string(headerLength) + ", expected 6");
    if (headerLength > r.size() - 8) r.fail(4, "header length " + std::to_string(headerLength) + " runs past the end of the file");
    MidiFile file;
    file.format = r.be16(8);
    file.trackCount = r.be16(10);
    const std::uint16_t division = r.be16(12);
    if (file.format > 2) r.fail(8, "format " + std::to_string(file.format) + ", expected 0, 1 or 2");
    if (file.format == 0 && file.trackCount != 1) r.fail(10, "format 0 with " + tracks(file.trackCount) + ", expected 1");
    double ticksPerSecond = 0.0;  // SMPTE division
    if (division & 0x8000) {
        const int fps = -static_cast<int>(static_cast<std::int8_t>(division >> 8));
        const int ticksPerFrame = division & 0xFF;
        if (fps != 24 && fps != 25 && fps != 29 && fps != 30)
            r.fail(12, "SMPTE division with " + std::to_string(fps) + " frames per second, expected 24, 25, 29 or 30");
        if (ticksPerFrame == 0) r.fail(13, "SMPTE division with 0 ticks per frame");
        ticksPerSecond = (fps == 29 ? 29.97 : fps) * ticksPerFrame;
        file.division = static_cast<std::int16_t>(division);
    } else {
        if (division == 0) r.fail(12, "division of 0 ticks per quarter note");
        file.division = division;
    }

    std::vector<MidiFileEvent> events;
    std::vector<TempoChange> tempos;
    std::size_t p = 8 + headerLength;
    int found = 0;
    std::string skipped;  // the first chunk that is not a track, for the error message
    while (p < r.size()) {
        if (r.size() - p < 8) r.fail(p, "truncated chunk header (" + std::to_string(r.size() - p) + " bytes left)");
        const std::string id = r.id(p);
        const std::uint32_t length = r.be32(p + 4);
        if (length > r.size() - p - 8)
            r.fail(p + 4,
                   "chunk '" + id + "' claims " + std::to_string(length) + " bytes, only " + std::to_string(r.size() - p - 8) + " remain");
        if (id == "MTrk") {
            if (found == file.trackCount) r.fail(p, "more track chunks than the " + tracks(file.trackCount) + " the header announces");
            parseTrack(r, p + 8, p + 8 + length, found, events, tempos);
            ++found;
        } else if (skipped.empty()) {
            // Other ids: alien chunks, skipped.
            skipped = "; skipped a chunk '" + id + "' at byte " + std::to_string(p);
        }
        p += 8 + length;
    }
    if (found != file.trackCount)
        r.fail(p, "the header announces " + tracks(file.trackCount) + ", the file holds " + std::to_string(found) + skipped);

    // Timing: merge by tick (stable: track order, then file order), then through the tempo map.
    std::stable_sort(events.begin(), events.end(), [](const MidiFileEvent& a, const MidiFileEvent& b) { return a.tick < b.tick; });
    std::stable_sort(tempos.begin(), tempos.end(), [](const TempoChange& a, const TempoChange& b) { return a.tick < b.tick; });
    file.tempoChanges = static_cast<int>(tempos.size());
    std::size_t nextTempo = 0;
    double secondsAtTempo = 0.0;
    std::uint64_t tickAtTempo = 0;
    double secondsPerTick = ticksPerSecond > 0.0 ? 1.0 / ticksPerSecond : 0.5 / file.division;  // 120 bpm default
    for (MidiFileEvent& e : events) {
        if (ticksPerSecond == 0.0) {
            while (nextTempo < tempos.size() && tempos[nextTempo].tick <= e.tick) {
                secondsAtTempo += static_cast<double>(tempos[nextTempo].tick - tickAtTempo) * secondsPerTick;
                tickAtTempo = tempos[nextTempo].tick;
                secondsPerTick = tempos[nextTempo].microsPerQuarter * 1e-6 / file.division;
                ++nextTempo;
            }
        }
        e.seconds = secondsAtTempo + static_cast<double>(e.tick - tickAtTempo) * secondsPerTick;
        file.lengthSeconds = std::max(file.lengthSeconds, e.seconds);
    }
    std::erase_if(events, [](const MidiFileEvent& e) { return e.status == 0; });
    file.events = std::move(events);
    return file;
}

MidiFile readMidiFile(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path.string(), 0, "", "cannot open the file");
    const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw InputError(path.string(), 0, "", "cannot read the file");
    return parseMidiFile(bytes, path.string());
}

}  // namespace kabel
