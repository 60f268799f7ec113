// The MIDI Tuning Standard: frequency words, encoders, the real-time decoder and Scala export.
// Message layouts and the checksum rule: mts.hpp.
#include "core/tuning/mts.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace kabel::tuning {
namespace {

constexpr double kLog2A4 = 8.78135971352465960;  // log2(440)

constexpr std::uint8_t kSysex = 0xF0, kEox = 0xF7, kNonRealtime = 0x7E, kRealtime = 0x7F, kMts = 0x08;

long long floorDiv(long long a, long long b) noexcept {
    const long long q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

void checkByte(int value, const char* what) {
    if (value < 0 || value > 127)
        throw std::invalid_argument(std::string("MTS: ") + what + " must be 0..127, got " + std::to_string(value));
}

// 16 name bytes: printable ASCII kept, each other character (a UTF-8 sequence counts as one)
// becomes '?', padded with spaces.
void appendName(std::vector<std::uint8_t>& m, std::string_view name) {
    int written = 0;
    for (std::size_t i = 0; i < name.size() && written < 16; ++i) {
        const auto c = static_cast<unsigned char>(name[i]);
        if (c >= 0x80 && c < 0xC0) continue;  // a UTF-8 continuation byte: its lead byte gave the '?'
        m.push_back(c >= 0x20 && c < 0x7F ? c : static_cast<std::uint8_t>('?'));
        ++written;
    }
    for (; written < 16; ++written) m.push_back(' ');
}

void appendWord(std::vector<std::uint8_t>& m, MtsWord w) {
    m.push_back(w.xx);
    m.push_back(w.yy);
    m.push_back(w.zz);
}

double noteOfLog2Hz(double log2Hz) noexcept {
    return 69.0 + 12.0 * (log2Hz - kLog2A4);
}

std::vector<std::uint8_t> encodeDump(const TuningTable& table, int bank, int program, std::string_view name, int device) {
    checkByte(program, "the program");
    checkByte(device, "the device id");
    if (bank >= 0) checkByte(bank, "the bank");
    std::vector<std::uint8_t> m{kSysex, kNonRealtime, static_cast<std::uint8_t>(device), kMts,
                                static_cast<std::uint8_t>(bank >= 0 ? 0x04 : 0x01)};
    if (bank >= 0) m.push_back(static_cast<std::uint8_t>(bank));
    m.push_back(static_cast<std::uint8_t>(program));
    appendName(m, name);
    for (int k = 0; k < kMtsKeys; ++k) appendWord(m, mtsWordOfNote(noteOfLog2Hz(table.log2Hz[static_cast<std::size_t>(k)])));
    m.push_back(0);  // the checksum's place
    m.push_back(kEox);
    m[m.size() - 2] = mtsChecksum(m);
    return m;
}

const char* subIdName(int subId) noexcept {
    switch (subId) {
        case 0x00:
            return "bulk tuning dump request";
        case 0x01:
            return "bulk tuning dump";
        case 0x02:
            return "single-note tuning change";
        case 0x03:
            return "bulk tuning dump request (bank)";
        case 0x04:
            return "key-based tuning dump";
        case 0x05:
            return "scale/octave tuning dump (1 byte)";
        case 0x06:
            return "scale/octave tuning dump (2 bytes)";
        case 0x07:
            return "single-note tuning change (bank)";
        case 0x08:
            return "scale/octave tuning (1 byte)";
        case 0x09:
            return "scale/octave tuning (2 bytes)";
        default:
            return "message";
    }
}

}  // namespace

// ---- Frequency words ----

MtsWord mtsWordOfNote(double note) noexcept {
    if (!(note == note)) return {};
    constexpr double kMax = 127.0 * kMtsFractionSteps + (kMtsFractionSteps - 2);  // 7F 7F 7E: 7F 7F 7F means "no change"
    double steps = std::round(note * kMtsFractionSteps);
    steps = steps < 0.0 ? 0.0 : (steps > kMax ? kMax : steps);
    const auto s = static_cast<std::uint32_t>(steps);
    const std::uint32_t fraction = s & 0x3FFFu;
    return {static_cast<std::uint8_t>(s >> 14), static_cast<std::uint8_t>(fraction >> 7), static_cast<std::uint8_t>(fraction & 0x7Fu)};
}

MtsWord mtsWordOfFrequency(double hz) noexcept {
    if (!(hz > 0.0)) return {};
    return mtsWordOfNote(69.0 + 12.0 * std::log2(hz / 440.0));
}

double mtsNoteOfWord(MtsWord w) noexcept {
    return w.xx + static_cast<double>((w.yy << 7) | w.zz) / kMtsFractionSteps;
}

double mtsFrequencyOfNote(double note) noexcept {
    return 440.0 * std::exp2((note - 69.0) / 12.0);
}

// ---- Tables ----

MtsTable MtsTable::equal() noexcept {
    MtsTable t;
    for (int k = 0; k < kMtsKeys; ++k) t.note[static_cast<std::size_t>(k)] = k;
    t.name.fill(' ');
    return t;
}

std::string MtsTable::nameText() const {
    std::string s(name.begin(), name.end());
    while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
    return s;
}

MtsPeriod periodOf(const MtsTable& t) noexcept {
    // Two roundings to 1/16384 semitone: a difference of two keys is off by at most one step.
    constexpr double kTolerance = 2.01 / kMtsFractionSteps;
    const auto fits = [&](int p, double& mean) {
        double lo = 1e300, hi = -1e300, sum = 0.0;
        for (int k = 0; k + p < kMtsKeys; ++k) {
            const double d = t.note[static_cast<std::size_t>(k + p)] - t.note[static_cast<std::size_t>(k)];
            lo = std::min(lo, d);
            hi = std::max(hi, d);
            sum += d;
        }
        mean = sum / (kMtsKeys - p);
        return hi - lo <= kTolerance;
    };
    // Prefer the shortest period that is an octave within 25 cents (12-TET: 12 keys, 31-EDO: 31,
    // a stretched gamelan octave), else the shortest period at all (Bohlen-Pierce's equal steps: 1).
    MtsPeriod shortest;
    for (int p = 1; p <= 64; ++p) {
        double mean = 0.0;
        if (!fits(p, mean)) continue;
        if (std::fabs(mean * 100.0 - 1200.0) <= 25.0) return {p, mean * 100.0};
        if (shortest.keys == 0) shortest = {p, mean * 100.0};
    }
    return shortest;
}

TuningTable toTuningTable(const MtsTable& t) noexcept {
    TuningTable table;
    const MtsPeriod period = periodOf(t);
    for (int k = 0; k < kMtsKeys; ++k) {
        const auto i = static_cast<std::size_t>(k);
        table.log2Hz[i] = kLog2A4 + (t.note[i] - 69.0) / 12.0;
        table.mapped[i] = true;
        if (period.keys > 0) {
            const long long q = floorDiv(k - 60, period.keys);
            table.degree[i] = static_cast<std::int32_t>(k - 60 - q * period.keys);
            table.period[i] = static_cast<std::int32_t>(q);
        } else {
            table.degree[i] = k;
            table.period[i] = 0;
        }
    }
    if (period.keys > 0) {
        table.periodKeys = period.keys;
        table.periodLog2 = period.cents / 1200.0;
    } else {
        // The 128 keys are one pattern, continued beyond key 127 by its last step.
        table.periodKeys = kMtsKeys;
        table.periodLog2 = (2.0 * t.note[127] - t.note[126] - t.note[0]) / 12.0;
    }
    return table;
}

ScalaExport toScala(const MtsTable& t, const std::string& description) {
    ScalaExport e;
    std::string name = t.nameText();
    e.scale.description = !description.empty() ? description : (!name.empty() ? name : std::string("MIDI Tuning Standard table"));
    const MtsPeriod period = periodOf(t);
    const int base = period.keys > 0 ? 60 : 0;
    const int notes = period.keys > 0 ? period.keys : kMtsKeys;
    const double baseNote = t.note[static_cast<std::size_t>(base)];
    for (int j = 1; j < notes; ++j)
        e.scale.pitches.push_back(Pitch::fromCents((t.note[static_cast<std::size_t>(base + j)] - baseNote) * 100.0));
    const double periodCents = period.keys > 0 ? period.cents : (2.0 * t.note[127] - t.note[126] - t.note[0]) * 100.0;
    e.scale.pitches.push_back(Pitch::fromCents(periodCents));
    e.map = KeyboardMap::linear(base, base, t.frequency(base));
    return e;
}

// ---- Encoding ----

std::uint8_t mtsChecksum(std::span<const std::uint8_t> m) noexcept {
    std::uint8_t x = 0;
    for (std::size_t i = 1; i + 2 < m.size(); ++i) x ^= m[i];
    return static_cast<std::uint8_t>(x & 0x7F);
}

std::vector<std::uint8_t> encodeBulkDump(const TuningTable& table, int program, std::string_view name, int device) {
    return encodeDump(table, -1, program, name, device);
}

std::vector<std::uint8_t> encodeKeyBasedDump(const TuningTable& table, int bank, int program, std::string_view name, int device) {
    checkByte(bank, "the bank");
    return encodeDump(table, bank, program, name, device);
}

std::vector<std::uint8_t> encodeNoteChange(std::span<const MtsNoteChange> changes, int program, int device) {
    checkByte(program, "the program");
    checkByte(device, "the device id");
    if (changes.empty() || changes.size() > static_cast<std::size_t>(kMtsMaxNoteChanges))
        throw std::invalid_argument("MTS: a single-note tuning change holds 1..127 keys, got " + std::to_string(changes.size()));
    std::vector<std::uint8_t> m{kSysex,
                                kRealtime,
                                static_cast<std::uint8_t>(device),
                                kMts,
                                0x02,
                                static_cast<std::uint8_t>(program),
                                static_cast<std::uint8_t>(changes.size())};
    for (const MtsNoteChange& c : changes) {
        checkByte(c.key, "a key");
        m.push_back(static_cast<std::uint8_t>(c.key));
        appendWord(m, mtsWordOfNote(c.note));
    }
    m.push_back(kEox);
    return m;
}

std::vector<std::vector<std::uint8_t>> encodeNoteChanges(const TuningTable& table, int program, int device) {
    std::vector<std::vector<std::uint8_t>> messages;
    std::vector<MtsNoteChange> changes;
    for (int k = 0; k < kMtsKeys; ++k) {
        changes.push_back({k, noteOfLog2Hz(table.log2Hz[static_cast<std::size_t>(k)])});
        if (static_cast<int>(changes.size()) == kMtsMaxNoteChanges || k == kMtsKeys - 1) {
            messages.push_back(encodeNoteChange(changes, program, device));
            changes.clear();
        }
    }
    return messages;
}

std::vector<std::uint8_t> encodeScaleOctave(const std::array<double, 12>& cents, bool twoBytes, bool realtime, std::uint16_t channels,
                                            int device) {
    checkByte(device, "the device id");
    std::vector<std::uint8_t> m{kSysex,
                                realtime ? kRealtime : kNonRealtime,
                                static_cast<std::uint8_t>(device),
                                kMts,
                                static_cast<std::uint8_t>(twoBytes ? 0x09 : 0x08),
                                static_cast<std::uint8_t>((channels >> 14) & 0x03),
                                static_cast<std::uint8_t>((channels >> 7) & 0x7F),
                                static_cast<std::uint8_t>(channels & 0x7F)};
    for (double c : cents) {
        if (!(c == c)) c = 0.0;
        if (twoBytes) {
            const double v = std::clamp(std::round(c * 8192.0 / 100.0) + 8192.0, 0.0, 16383.0);
            const auto u = static_cast<unsigned>(v);
            m.push_back(static_cast<std::uint8_t>(u >> 7));
            m.push_back(static_cast<std::uint8_t>(u & 0x7F));
        } else {
            m.push_back(static_cast<std::uint8_t>(std::clamp(std::round(c) + 64.0, 0.0, 127.0)));
        }
    }
    m.push_back(kEox);
    return m;
}

// ---- Decoding ----

const char* toString(MtsError e) noexcept {
    switch (e) {
        case MtsError::Ok:
            return "ok";
        case MtsError::NotSysex:
            return "not a system-exclusive message (it must start with F0)";
        case MtsError::Unterminated:
            return "truncated: the message does not end with F7";
        case MtsError::TooLong:
            return "too long for any MTS message";
        case MtsError::NotMts:
            return "not an MTS message (F0 7E/7F <device> 08 ...)";
        case MtsError::UnknownSubId:
            return "unknown MTS sub-id";
        case MtsError::WrongRealtime:
            return "sent in the wrong (real-time / non-real-time) form";
        case MtsError::WrongLength:
            return "wrong length";
        case MtsError::DataByteHigh:
            return "a data byte above 0x7F";
        case MtsError::BadChecksum:
            return "bad checksum";
        case MtsError::BadCount:
            return "a single-note change of 0 keys";
        case MtsError::OtherDevice:
            return "for another device id";
        case MtsError::OtherProgram:
            return "for another tuning program";
    }
    return "?";
}

std::string describe(const MtsResult& r) {
    std::string s = "MTS ";
    s += r.subId >= 0 ? subIdName(r.subId) : "message";
    s += ": ";
    s += toString(r.error);
    char buffer[96];
    if (r.offset >= 0) {
        std::snprintf(buffer, sizeof buffer, " at byte %d", r.offset);
        s += buffer;
    }
    if (r.expected >= 0) {
        if (r.error == MtsError::BadChecksum || r.error == MtsError::DataByteHigh)
            std::snprintf(buffer, sizeof buffer, " (expected 0x%02X, got 0x%02X)", r.expected, r.got);
        else
            std::snprintf(buffer, sizeof buffer, " (expected %d, got %d)", r.expected, r.got);
        s += buffer;
    }
    if (r.ok()) {
        std::snprintf(buffer, sizeof buffer, ", program %d, %d keys", r.program, r.changedKeys);
        s += buffer;
    }
    return s;
}

void MtsDecoder::reset() noexcept {
    table_ = MtsTable::equal();
    last_ = {};
    length_ = 0;
    inMessage_ = false;
    overflow_ = false;
}

MtsResult MtsDecoder::decode(std::span<const std::uint8_t> message) noexcept {
    MtsResult r;
    if (message.empty() || message[0] != kSysex) {
        r.error = MtsError::NotSysex;
        r.offset = 0;
        return last_ = r;
    }
    // Copy without the real-time bytes MIDI lets into any message.
    int n = 0;
    for (std::size_t i = 0; i < message.size(); ++i) {
        if (message[i] >= 0xF8) continue;
        if (n == kMtsMaxMessageBytes) {
            r.error = MtsError::TooLong;
            r.offset = n;
            return last_ = r;
        }
        buffer_[static_cast<std::size_t>(n++)] = message[i];
    }
    length_ = 0;
    inMessage_ = false;
    return last_ = parse(buffer_.data(), n);
}

bool MtsDecoder::feed(std::uint8_t byte) noexcept {
    if (byte >= 0xF8) return false;  // real-time bytes may come anywhere, even inside a sysex
    if (byte == kSysex) {
        const bool broken = inMessage_;
        if (broken) {
            last_ = {};
            last_.error = MtsError::Unterminated;
            last_.offset = length_;
        }
        inMessage_ = true;
        overflow_ = false;
        length_ = 0;
        buffer_[static_cast<std::size_t>(length_++)] = byte;
        return broken;
    }
    if (!inMessage_) return false;
    if (length_ < kMtsMaxMessageBytes)
        buffer_[static_cast<std::size_t>(length_++)] = byte;
    else
        overflow_ = true;
    if (byte == kEox) {
        inMessage_ = false;
        if (overflow_) {
            last_ = {};
            last_.error = MtsError::TooLong;
            last_.offset = kMtsMaxMessageBytes;
        } else {
            last_ = parse(buffer_.data(), length_);
        }
        return true;
    }
    if (byte & 0x80) {  // any other status byte ends a system-exclusive message
        inMessage_ = false;
        last_ = {};
        last_.error = MtsError::Unterminated;
        last_.offset = length_ - 1;
        return true;
    }
    return false;
}

MtsResult MtsDecoder::parse(const std::uint8_t* m, int size) noexcept {
    MtsResult r;
    const auto fail = [&](MtsError e, int offset, int expected = -1, int got = -1) {
        r.error = e;
        r.offset = offset;
        r.expected = expected;
        r.got = got;
        r.kind = MtsKind::None;
        return r;
    };
    if (size < 1 || m[0] != kSysex) return fail(MtsError::NotSysex, 0);
    if (size < 2 || m[size - 1] != kEox) return fail(MtsError::Unterminated, size);
    for (int i = 1; i + 1 < size; ++i)
        if (m[i] > 0x7F) return fail(MtsError::DataByteHigh, i, 0x7F, m[i]);
    if (size < 6 || (m[1] != kNonRealtime && m[1] != kRealtime) || m[3] != kMts) return fail(MtsError::NotMts, size < 6 ? size : 1);
    const int sub = m[4];
    r.subId = sub;
    r.realtime = m[1] == kRealtime;
    r.device = m[2];
    if (sub > 0x09) return fail(MtsError::UnknownSubId, 4, -1, sub);

    // Which form each sub-id exists in: 1 non-real-time only, 2 real-time only, 3 both.
    static constexpr int kForms[10] = {1, 1, 2, 1, 1, 1, 1, 3, 3, 3};
    if (!(kForms[sub] & (r.realtime ? 2 : 1))) return fail(MtsError::WrongRealtime, 1);

    const bool banked = sub == 0x03 || sub == 0x04 || sub == 0x05 || sub == 0x06 || sub == 0x07;
    const int programAt = banked ? 6 : 5;
    int expected = 0;
    switch (sub) {
        case 0x00:
            expected = 7;
            break;
        case 0x03:
            expected = 8;
            break;
        case 0x01:
            expected = 6 + 16 + 3 * kMtsKeys + 2;
            break;
        case 0x04:
            expected = 7 + 16 + 3 * kMtsKeys + 2;
            break;
        case 0x05:
            expected = 7 + 16 + 12 + 2;
            break;
        case 0x06:
            expected = 7 + 16 + 24 + 2;
            break;
        case 0x08:
            expected = 8 + 12 + 1;
            break;
        case 0x09:
            expected = 8 + 24 + 1;
            break;
        case 0x02:
        case 0x07: {
            const int countAt = programAt + 1;
            if (size <= countAt + 1) return fail(MtsError::WrongLength, size - 1, countAt + 2, size);
            const int count = m[countAt];
            if (count == 0) return fail(MtsError::BadCount, countAt);
            expected = countAt + 1 + 4 * count + 1;
            break;
        }
        default:
            break;
    }
    if (size != expected) return fail(MtsError::WrongLength, size - 1, expected, size);
    const bool checksummed = sub == 0x01 || sub == 0x04 || sub == 0x05 || sub == 0x06;
    if (checksummed) {
        const std::uint8_t want = mtsChecksum(std::span<const std::uint8_t>(m, static_cast<std::size_t>(size)));
        if (m[size - 2] != want) return fail(MtsError::BadChecksum, size - 2, want, m[size - 2]);
    }
    if (sub != 0x08 && sub != 0x09) {
        r.bank = banked ? m[5] : 0;
        r.program = m[programAt];
    }
    if (device_ >= 0 && r.device != 0x7F && r.device != device_) return fail(MtsError::OtherDevice, 2, device_, r.device);
    if (sub == 0x00 || sub == 0x03) {
        r.kind = MtsKind::DumpRequest;
        return r;
    }
    if (program_ >= 0 && sub != 0x08 && sub != 0x09 && r.program != program_)
        return fail(MtsError::OtherProgram, programAt, program_, r.program);

    // Valid: apply.
    const auto setName = [&](int at) {
        for (int i = 0; i < 16; ++i) table_.name[static_cast<std::size_t>(i)] = static_cast<char>(m[at + i]);
    };
    const auto setScaleOctave = [&](const std::uint8_t* data, bool twoBytes) {
        for (int k = 0; k < kMtsKeys; ++k) {
            const int pc = k % 12;
            const double cents = twoBytes ? (((data[2 * pc] << 7) | data[2 * pc + 1]) - 8192) * (100.0 / 8192.0) : data[pc] - 64.0;
            table_.note[static_cast<std::size_t>(k)] = k + cents / 100.0;
        }
        r.changedKeys = kMtsKeys;
        r.kind = MtsKind::ScaleOctave;
    };
    switch (sub) {
        case 0x01:
        case 0x04: {
            const int name = programAt + 1, data = name + 16;
            setName(name);
            for (int k = 0; k < kMtsKeys; ++k) {
                const MtsWord w{m[data + 3 * k], m[data + 3 * k + 1], m[data + 3 * k + 2]};
                if (w.noChange()) continue;
                table_.note[static_cast<std::size_t>(k)] = mtsNoteOfWord(w);
                ++r.changedKeys;
            }
            r.kind = MtsKind::BulkDump;
            break;
        }
        case 0x02:
        case 0x07: {
            const int count = m[programAt + 1];
            const std::uint8_t* p = m + programAt + 2;
            for (int i = 0; i < count; ++i, p += 4) {
                const MtsWord w{p[1], p[2], p[3]};
                if (w.noChange()) continue;
                table_.note[p[0]] = mtsNoteOfWord(w);
                ++r.changedKeys;
            }
            r.kind = MtsKind::NoteChange;
            break;
        }
        case 0x05:
        case 0x06:
            setName(programAt + 1);
            setScaleOctave(m + programAt + 17, sub == 0x06);
            break;
        case 0x08:
        case 0x09:
            r.channels = static_cast<std::uint16_t>(((m[5] & 0x03) << 14) | (m[6] << 7) | m[7]);
            setScaleOctave(m + 8, sub == 0x09);
            break;
        default:
            break;
    }
    table_.bank = r.bank;
    table_.program = r.program;
    return r;
}

}  // namespace kabel::tuning
