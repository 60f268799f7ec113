// The only file that includes Ableton Link's headers (see link_session.hpp).
#include "core/sync/link_session.hpp"

#include <chrono>
#include <cmath>
#include <optional>

#include <ableton/Link.hpp>

namespace kabel {
namespace {

// Link's clock: std::chrono::steady_clock, the time base MidiClock publishes engine frames on.
struct SteadyClock {
    std::chrono::microseconds micros() const {
        return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch());
    }
};

using Link = ableton::BasicLink<SteadyClock>;

// beatAtTime() at the microsecond at or before `nanos`, completed linearly to the nanosecond.
double beatAtNanos(const Link::SessionState& state, std::int64_t nanos, double quantum, double tempo) {
    const std::int64_t micros = nanos >= 0 ? nanos / 1000 : -((-nanos + 999) / 1000);
    const double beat = state.beatAtTime(std::chrono::microseconds(micros), quantum);
    return beat + static_cast<double>(nanos - micros * 1000) * tempo / 60e9;
}

}  // namespace

struct LinkSession::Impl {
    explicit Impl(double bpm) : link(bpm) {}
    Link link;
    std::optional<Link::SessionState> audioState;  // the block's capture (audio thread)
};

LinkSession::LinkSession(double bpm) : impl_(std::make_unique<Impl>(bpm)) {
    block_.session_ = this;
    block_.tempo_ = bpm;
}

LinkSession::~LinkSession() {
    impl_->link.enable(false);
}

void LinkSession::enable(bool on) {
    impl_->link.enable(on);
}

bool LinkSession::enabled() const noexcept {
    return impl_->link.isEnabled();
}

std::size_t LinkSession::numPeers() const noexcept {
    return impl_->link.numPeers();
}

double LinkSession::tempo() const {
    return impl_->link.captureAppSessionState().tempo();
}

void LinkSession::setTempo(double bpm) {
    Link::SessionState state = impl_->link.captureAppSessionState();
    state.setTempo(bpm, impl_->link.clock().micros());
    impl_->link.commitAppSessionState(state);
}

double LinkSession::beatAt(std::int64_t nanos, double quantum) const {
    const Link::SessionState state = impl_->link.captureAppSessionState();
    return beatAtNanos(state, nanos, quantum, state.tempo());
}

const LinkBlock* LinkSession::captureBlock() noexcept {
    impl_->audioState.emplace(impl_->link.captureAudioSessionState());
    block_.tempo_ = impl_->audioState->tempo();
    return &block_;
}

std::int64_t LinkSession::nowNanos() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double LinkBlock::beatAt(std::int64_t nanos, double quantum) const noexcept {
    const auto& state = session_->impl_->audioState;
    if (!state) return 0.0;
    return beatAtNanos(*state, nanos, quantum, tempo_);
}

double LinkBlock::phaseAt(std::int64_t nanos, double quantum) const noexcept {
    const double beat = beatAt(nanos, quantum);
    return beat - quantum * std::floor(beat / quantum);
}

}  // namespace kabel
