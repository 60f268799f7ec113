// core/tuning: the MIDI Tuning Standard (MTS) — tunings as system-exclusive messages.
//
// Design note. MTS describes a tuning as the frequency of each of the 128 MIDI keys, written as a
// 3-byte *frequency word* `xx yy zz`: the 12-TET semitone xx (A4 = 69 = 440 Hz) plus a 14-bit
// fraction (yy << 7 | zz) / 16384 of a semitone (one step = 100/16384 = 0.0061 cents); the word
// 7F 7F 7F means "no change". Kabel writes and reads these messages (MIDI 1.0 Detailed
// Specification, MIDI Tuning; extensions CA-020 and CA-021):
//
//   08 00  bulk tuning dump request       F0 7E dev 08 00 tt F7
//   08 01  bulk tuning dump               F0 7E dev 08 01 tt <name x16> <xx yy zz x128> cs F7
//   08 02  single-note tuning change      F0 7F dev 08 02 tt ll (kk xx yy zz) x ll F7
//   08 03  bulk dump request (bank)       F0 7E dev 08 03 bb tt F7
//   08 04  key-based tuning dump          F0 7E dev 08 04 bb tt <name x16> <xx yy zz x128> cs F7
//   08 05  scale/octave dump, 1 byte      F0 7E dev 08 05 bb tt <name x16> <ss x12> cs F7
//   08 06  scale/octave dump, 2 bytes     F0 7E dev 08 06 bb tt <name x16> <ss tt x12> cs F7
//   08 07  single-note change (bank)      F0 7F|7E dev 08 07 bb tt ll (kk xx yy zz) x ll F7
//   08 08  scale/octave tuning, 1 byte    F0 7F|7E dev 08 08 ff gg hh <ss x12> F7
//   08 09  scale/octave tuning, 2 bytes   F0 7F|7E dev 08 09 ff gg hh <ss tt x12> F7
//
// The checksum `cs` of the dumps is the XOR of every byte after F0 up to the checksum (7E, the
// device id, 08, the sub-id, the bank and program, name and data), masked to 7 bits. Scale/octave
// offsets: 1-byte form 00..7F = -64..+63 cents (40 = 0); 2-byte form, a 14-bit value v with
// cents = (v - 8192) * 100 / 8192 (00 00 = -100, 40 00 = 0, 7F 7F = +99.988 cents). A scale/octave
// message sets every key to 12-TET (A4 = 440 Hz) plus the offset of its pitch class (C = 0); the
// channel mask ff gg hh is reported, not applied (Kabel's table is one per decoder).
//
// Threads: the encoders and the conversions to Scala files allocate (any thread but the audio
// thread). MtsDecoder is for the audio thread: noexcept, no allocation, fixed-size state; it
// takes bytes from an untrusted source and rejects anything malformed with a reason, never
// applying part of a bad message.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/tuning/tuning.hpp"

namespace kabel::tuning {

inline constexpr int kMtsKeys = 128;
inline constexpr int kMtsFractionSteps = 16384;           ///< steps of the 14-bit semitone fraction
inline constexpr double kMtsStepCents = 100.0 / 16384.0;  ///< 0.006103515625 cents
inline constexpr int kMtsMaxMessageBytes = 520;           ///< the longest message (08 07 with 127 changes) is 517 bytes
inline constexpr int kMtsMaxNoteChanges = 127;            ///< `ll` is a 7-bit count

/// A 3-byte MTS frequency word.
struct MtsWord {
    std::uint8_t xx = 0, yy = 0, zz = 0;
    bool noChange() const noexcept { return xx == 0x7F && yy == 0x7F && zz == 0x7F; }
    bool operator==(const MtsWord&) const = default;
};

/// The word nearest to MIDI note value `note` (semitones, 69 = A4 = 440 Hz, fractional), rounded to
/// the nearest 1/16384 semitone and clamped to the representable range 00 00 00 (8.1758 Hz) ..
/// 7F 7F 7E (13289.73 Hz). NaN gives 00 00 00. Any thread.
MtsWord mtsWordOfNote(double note) noexcept;
/// The word nearest to `hz` (see mtsWordOfNote); 0 Hz, negative or NaN give 00 00 00.
MtsWord mtsWordOfFrequency(double hz) noexcept;
/// The MIDI note value of a word: xx + (yy * 128 + zz) / 16384. Not meaningful for 7F 7F 7F.
double mtsNoteOfWord(MtsWord word) noexcept;
/// Hz of a MIDI note value: 440 * 2^((note - 69) / 12).
double mtsFrequencyOfNote(double note) noexcept;

/// One tuning: the MIDI note value (12-TET semitones, 69 = 440 Hz) each key sounds. Plain data.
struct MtsTable {
    std::array<double, kMtsKeys> note{};  ///< key k sounds at mtsFrequencyOfNote(note[k])
    std::array<char, 16> name{};          ///< the dump's name (ASCII, space-padded), or spaces
    int bank = 0, program = 0;            ///< of the message that set it last

    /// 12-TET at A4 = 440 Hz (note[k] = k), named with spaces.
    static MtsTable equal() noexcept;
    double frequency(int key) const noexcept { return mtsFrequencyOfNote(note[static_cast<std::size_t>(key & 127)]); }
    /// The name without trailing spaces or NULs (allocates).
    std::string nameText() const;
};

/// The repetition a table has: every key `keys` above another sounds `cents` higher (within the
/// two 1/16384-semitone roundings of MTS). Of the periods of at most 64 keys, the shortest that is
/// an octave within 25 cents (12-TET: 12 keys, 31-EDO: 31, a gamelan's stretched octave), else the
/// shortest (an equal division of 3/1: 1 key); keys = 0 when none fits (keys clamped at the ends
/// of MTS's range break the repetition too).
struct MtsPeriod {
    int keys = 0;
    double cents = 0.0;
};
MtsPeriod periodOf(const MtsTable& table) noexcept;

/// The table as a TuningTable (every key mapped; degree and period follow periodOf(): degree =
/// (key - 60) mod keys, key 60 being degree 0; with no period, degree = key and the notes outside
/// 0..127 continue by the end slope). Any thread; no allocation.
TuningTable toTuningTable(const MtsTable& table) noexcept;

/// A decoded table as Scala files: `scale` and `map` play exactly the table's frequencies on keys
/// 0..127 (to within one 1/16384-semitone step where the period is averaged). With a period
/// (periodOf): a scale of `keys` notes from key 60, a linear map with key 60 at its frequency;
/// without one: a 128-note scale from key 0 (its period extrapolated from the last two keys), a
/// linear map with key 0 at its frequency. Write them with toScl()/toKbm(). Allocates.
struct ScalaExport {
    Scale scale;
    KeyboardMap map;
};
ScalaExport toScala(const MtsTable& table, const std::string& description = {});

// ---- Encoding (allocates; any thread but the audio thread) ----

/// `F0 7E dev 08 01 tt <name> <128 words> cs F7` (408 bytes): every key of `table` (mapped or not:
/// MTS has no silent keys). `name`: up to 16 characters, non-ASCII replaced by '?', padded with
/// spaces. Throws std::invalid_argument for a program or device outside 0..127.
std::vector<std::uint8_t> encodeBulkDump(const TuningTable& table, int program = 0, std::string_view name = {}, int device = 0x7F);
/// The same as a key-based tuning dump with bank (08 04, 409 bytes).
std::vector<std::uint8_t> encodeKeyBasedDump(const TuningTable& table, int bank, int program = 0, std::string_view name = {},
                                             int device = 0x7F);

/// One retuned key of a single-note tuning change.
struct MtsNoteChange {
    int key = 0;        ///< 0..127
    double note = 0.0;  ///< MIDI note value it sounds (semitones, 69 = 440 Hz)
};
/// `F0 7F dev 08 02 tt ll (kk xx yy zz)... F7` for 1..127 changes. Throws std::invalid_argument for
/// an empty or too long list, a key, program or device outside 0..127.
std::vector<std::uint8_t> encodeNoteChange(std::span<const MtsNoteChange> changes, int program = 0, int device = 0x7F);
/// Every key of `table` as single-note changes: two messages (127 + 1 keys).
std::vector<std::vector<std::uint8_t>> encodeNoteChanges(const TuningTable& table, int program = 0, int device = 0x7F);
/// Scale/octave tuning (08 08 with `twoBytes` false, 08 09 with true): offsets in cents from 12-TET
/// of C, C#, ..., B, clamped to the form's range (-64..+63 rounded to whole cents; -100..+99.988
/// in steps of 100/8192 cents). `channels`: bit c = MIDI channel c + 1 (default all 16).
/// `realtime`: F0 7F (retune sounding notes) or F0 7E. Throws std::invalid_argument for a device
/// outside 0..127.
std::vector<std::uint8_t> encodeScaleOctave(const std::array<double, 12>& centsOffsets, bool twoBytes, bool realtime = true,
                                            std::uint16_t channels = 0xFFFF, int device = 0x7F);

/// The checksum of a dump: XOR of message[1 .. size-3] (every byte after F0 up to the checksum), & 0x7F.
std::uint8_t mtsChecksum(std::span<const std::uint8_t> message) noexcept;

// ---- Decoding ----

enum class MtsKind : std::uint8_t {
    None,         ///< nothing decoded (an error, or a message of no tuning)
    DumpRequest,  ///< 08 00 / 08 03: someone asks for program `program` (answer with encodeBulkDump)
    BulkDump,     ///< 08 01 / 08 04: all 128 keys
    NoteChange,   ///< 08 02 / 08 07: some keys
    ScaleOctave,  ///< 08 08 / 08 09 / 08 05 / 08 06: 12 pitch-class offsets
};

enum class MtsError : std::uint8_t {
    Ok,
    NotSysex,       ///< does not start with F0
    Unterminated,   ///< no F7 at the end (truncated), or a status byte inside the message
    TooLong,        ///< longer than kMtsMaxMessageBytes
    NotMts,         ///< not a universal (7E/7F) message with sub-id 08 (ignored, not an error to show)
    UnknownSubId,   ///< sub-id #2 not one of 00..09
    WrongRealtime,  ///< the sub-id exists only as real-time (or only as non-real-time)
    WrongLength,    ///< the length does not match the sub-id (and the count `ll`)
    DataByteHigh,   ///< a byte > 0x7F where a data byte belongs
    BadChecksum,    ///< a dump whose checksum does not match
    BadCount,       ///< a single-note change with ll = 0
    OtherDevice,    ///< addressed to another device id (filtered by setDevice)
    OtherProgram,   ///< for another tuning program (filtered by setProgram)
};
/// A short English reason, e.g. "bad checksum". Any thread.
const char* toString(MtsError error) noexcept;

/// What decoding one message did. Plain data.
struct MtsResult {
    MtsError error = MtsError::Ok;
    MtsKind kind = MtsKind::None;
    int subId = -1;     ///< sub-id #2 (00..09) once the header was read, -1 before
    int offset = -1;    ///< the byte (0 = F0) where the problem is, -1 if none
    int expected = -1;  ///< for BadChecksum/WrongLength: the expected value; -1 otherwise
    int got = -1;       ///< ...and what the message has
    int bank = 0, program = 0, device = 0;
    int changedKeys = 0;              ///< keys whose tuning the message set (7F 7F 7F words excluded)
    bool realtime = false;            ///< F0 7F (sounding notes should follow) or F0 7E
    std::uint16_t channels = 0xFFFF;  ///< scale/octave channel mask (bit c = channel c + 1)
    bool ok() const noexcept { return error == MtsError::Ok; }
};
/// "MTS bulk dump: bad checksum at byte 406 (expected 0x12, got 0x34)". Allocates.
std::string describe(const MtsResult& result);

/// Decodes MTS messages into one 128-key table. Audio thread (or any one thread at a time):
/// noexcept, no allocation, no locks. A message is applied only when it is entirely valid.
class MtsDecoder {
public:
    MtsDecoder() noexcept { reset(); }

    /// Decodes one complete message (F0 ... F7). Real-time status bytes (F8..FF) inside it are
    /// skipped, as MIDI allows. Updates table() when the message is a valid tuning message for
    /// this device and program.
    MtsResult decode(std::span<const std::uint8_t> message) noexcept;

    /// Streaming: feeds one byte of a MIDI byte stream. Bytes outside a sysex are ignored; F0
    /// starts a message, F7 ends it and decodes it. Returns true when a message ended (the
    /// outcome is lastResult()), also when it was broken off by a status byte or grew too long.
    bool feed(std::uint8_t byte) noexcept;
    const MtsResult& lastResult() const noexcept { return last_; }

    /// The current tuning (12-TET until a message changes it).
    const MtsTable& table() const noexcept { return table_; }
    /// Back to 12-TET; forgets a partial message.
    void reset() noexcept;

    /// Accept only messages for device `id` (and the all-call 7F); -1 (default) accepts any.
    void setDevice(int id) noexcept { device_ = id; }
    /// Accept only tuning program `program` (0..127; bank ignored); -1 (default) accepts any.
    void setProgram(int program) noexcept { program_ = program; }

private:
    MtsResult parse(const std::uint8_t* m, int size) noexcept;

    MtsTable table_;
    MtsResult last_;
    std::array<std::uint8_t, kMtsMaxMessageBytes> buffer_{};
    int length_ = 0;
    bool inMessage_ = false;
    bool overflow_ = false;
    int device_ = -1, program_ = -1;
};

}  // namespace kabel::tuning
