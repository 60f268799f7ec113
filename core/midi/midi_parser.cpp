#include "core/midi/midi_parser.hpp"

#include <algorithm>

namespace kabel {

MidiParser::MidiParser(std::size_t maxSysex)
    : sysex_(new std::uint8_t[std::max<std::size_t>(maxSysex, 2)]), capacity_(std::max<std::size_t>(maxSysex, 2)) {}

void MidiParser::reset() noexcept {
    inSysex_ = false;
    sysexOverflow_ = false;
    sysexLength_ = 0;
    status_ = 0;
    have_ = 0;
    pending_ = false;
}

bool MidiParser::step(std::uint8_t byte, MidiMessage& out) noexcept {
    if (byte >= 0xF8) {
        // Real-time: at once, wherever it arrives; nothing else changes.
        if (byte == 0xF9 || byte == 0xFD) {
            ++stats_.undefined;
            return false;
        }
        out.status = byte;
        ++stats_.messages;
        return true;
    }
    if (inSysex_) {
        if (byte < 0x80) {
            if (sysexLength_ < capacity_ - 1)
                sysex_[sysexLength_++] = byte;
            else
                sysexOverflow_ = true;
            return false;
        }
        inSysex_ = false;
        if (byte == 0xF7) {
            if (sysexOverflow_) {
                ++stats_.sysexOverflows;
                sysexOverflow_ = false;
                return false;
            }
            sysex_[sysexLength_++] = 0xF7;
            out.status = 0xF0;
            out.sysex = sysex_.get();
            out.sysexLength = static_cast<std::uint32_t>(sysexLength_);
            ++stats_.messages;
            return true;
        }
        // Any other status byte ends the sysex without EOX: dropped; the byte is handled below.
        if (sysexOverflow_)
            ++stats_.sysexOverflows;
        else
            ++stats_.truncated;
        sysexOverflow_ = false;
    }
    if (byte >= 0x80) {
        // A new status byte: whatever was being assembled is cut short.
        if (pending_) ++stats_.truncated;
        pending_ = false;
        have_ = 0;
        if (byte == 0xF0) {
            status_ = 0;
            inSysex_ = true;
            sysexOverflow_ = false;
            sysex_[0] = 0xF0;
            sysexLength_ = 1;
            return false;
        }
        if (byte == 0xF4 || byte == 0xF5) {
            ++stats_.undefined;
            status_ = 0;
            return false;
        }
        if (byte == 0xF7) {
            ++stats_.strayBytes;
            status_ = 0;
            return false;
        }
        if (byte >= 0xF0) {
            // System common: clears running status.
            if (midiDataBytes(byte) == 0) {  // F6 tune request
                status_ = 0;
                out.status = byte;
                ++stats_.messages;
                return true;
            }
        }
        status_ = byte;
        pending_ = true;
        return false;
    }
    // A data byte.
    if (status_ == 0) {
        ++stats_.strayBytes;
        return false;
    }
    data_[have_++] = byte;
    if (have_ < midiDataBytes(status_)) {
        pending_ = true;
        return false;
    }
    pending_ = false;
    out.status = status_;
    out.data1 = data_[0];
    out.data2 = have_ > 1 ? data_[1] : 0;
    have_ = 0;
    if (status_ >= 0xF0) status_ = 0;  // system common: no running status
    ++stats_.messages;
    return true;
}

}  // namespace kabel
