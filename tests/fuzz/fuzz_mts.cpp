// libFuzzer target for core/tuning/mts: the MIDI Tuning Standard decoder, fed untrusted sysex
// both as whole messages (decode) and byte by byte (feed), and what a decoded table feeds: the
// real-time TuningTable, the Scala export (which must parse again and play the same keys) and a
// bulk dump of it (which must decode to the same words). Anything that traps, a sanitizer report
// or an exception is a bug.
//
//   selector bit 0: 0 = the input is cut into messages after every F7 and each is decoded whole;
//                       a second decoder is fed the same bytes, and when every message is clean
//                       (F0 ... F7, only real-time bytes inside) both must end with the same table
//                   1 = the input is one byte stream fed to feed()
//   selector bits 1-2: device filter (none, 0x00, 0x7F, 0x10); bit 3: program filter 0
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/tuning/mts.hpp"
#include "core/util/error.hpp"

namespace {

using namespace kabel::tuning;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

void checkResult(const MtsResult& r) {
    check(toString(r.error) != nullptr);
    check(!describe(r).empty());
    check(r.ok() || r.kind == MtsKind::None);
    check(r.changedKeys >= 0 && r.changedKeys <= kMtsKeys);
    check(r.offset >= -1 && r.offset <= kMtsMaxMessageBytes);
    check(r.subId >= -1 && r.subId <= 0x7F);
}

/// Every key's note is finite and in MTS's range: a frequency word is 0 .. 127 + 16382/16384
/// semitones; a scale/octave message may take key 0 down to -100 cents (note -1).
void checkTable(const MtsTable& t) {
    for (const double note : t.note) check(std::isfinite(note) && note >= -1.0 && note < 128.0);
}

void exerciseTable(const MtsTable& t) {
    const TuningTable table = toTuningTable(t);
    check(table.periodKeys >= 1 && std::isfinite(table.periodLog2));
    for (const double note : {-300.5, -1.0, 0.0, 0.5, 60.0, 69.25, 127.0, 127.5, 200.0, 1e9, std::nan("")}) {
        const double hz = table.frequency(note);
        check(std::isfinite(hz) && hz > 0.0);
    }
    for (int k = 0; k < kMtsKeys; ++k) check(std::fabs(table.frequency(k) / t.frequency(k) - 1.0) < 1e-9);

    // A bulk dump of the table decodes to the same words (each note is already a word).
    MtsDecoder again;
    const MtsResult r = again.decode(encodeBulkDump(table, 5, t.nameText()));
    check(r.ok() && r.kind == MtsKind::BulkDump);
    for (int k = 0; k < kMtsKeys; ++k)
        check(mtsWordOfNote(again.table().note[static_cast<std::size_t>(k)]) == mtsWordOfNote(t.note[static_cast<std::size_t>(k)]));

    // The Scala export parses again and plays the table's keys (toScala: "to within one step").
    const ScalaExport e = toScala(t);
    try {
        const Scale scale = parseScale(toScl(e.scale, "mts.scl"), "mts.scl");
        const KeyboardMap map = parseKeyboardMap(toKbm(e.map, "mts.kbm"), "mts.kbm");
        const Tuning tuning(scale, map);
        for (int k = 0; k < kMtsKeys; ++k) {
            const double cents = 1200.0 * std::log2(tuning.frequencyOfKey(k) / t.frequency(k));
            check(std::fabs(cents) < 0.05);
        }
    } catch (const kabel::InputError&) {
        check(false);  // an exported table must load
    }
}

bool clean(std::span<const std::uint8_t> m) {
    if (m.size() < 2 || m.front() != 0xF0 || m.back() != 0xF7 || m.size() > kMtsMaxMessageBytes) return false;
    for (std::size_t i = 1; i + 1 < m.size(); ++i)
        if (m[i] >= 0x80 && m[i] < 0xF8) return false;
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t selector = data[0];
    const std::span<const std::uint8_t> bytes(data + 1, size - 1);
    MtsDecoder decoder, streamed;
    static constexpr int kDevices[] = {-1, 0x00, 0x7F, 0x10};
    for (MtsDecoder* d : {&decoder, &streamed}) {
        d->setDevice(kDevices[(selector >> 1) & 3]);
        d->setProgram((selector & 8) ? 0 : -1);
    }
    if (selector & 1) {
        bool applied = false;
        for (const std::uint8_t b : bytes) {
            if (streamed.feed(b)) {
                checkResult(streamed.lastResult());
                applied = applied || streamed.lastResult().ok();
            }
            checkTable(streamed.table());
        }
        if (applied) exerciseTable(streamed.table());  // the conversions are the slow part: only for a new table
        return 0;
    }
    bool allClean = true, applied = false;
    std::size_t start = 0;
    while (start < bytes.size()) {
        std::size_t end = start;
        while (end < bytes.size() && bytes[end] != 0xF7) ++end;
        end = std::min(end + 1, bytes.size());
        const std::span<const std::uint8_t> message = bytes.subspan(start, end - start);
        const MtsResult r = decoder.decode(message);
        checkResult(r);
        applied = applied || r.ok();
        checkTable(decoder.table());
        allClean = allClean && clean(message);
        for (const std::uint8_t b : message) streamed.feed(b);
        if (allClean) {
            check(streamed.lastResult().error == r.error && streamed.lastResult().kind == r.kind);
            check(streamed.table().note == decoder.table().note);
        }
        start = end;
    }
    if (applied) exerciseTable(decoder.table());
    return 0;
}
