// LinkSession: tempo and beat phase shared with other applications over Ableton Link.
//
// Design note. Link (Debian's header-only ableton-link-dev) is compiled in one file,
// link_session.cpp: its headers pull in asio and cost seconds of compile time, so nothing else
// includes them. Link's host time is the engine's time base: the Link clock reads
// std::chrono::steady_clock, the same clock MidiClock publishes at each device callback, so a
// module turns an engine frame into a Link time with HostBuffers::clock->timeAt(frame).
//
// Threads. The UI thread owns the LinkSession: it enables or disables Link (enabling opens UDP
// sockets on every network interface: Link is off unless asked, docs/midi.md "Ableton Link"),
// reads the peer count and the tempo, and commits tempo changes. The audio thread calls
// captureBlock() once per engine block (the engine does it when a session is attached, see
// Engine::setLink); the LinkBlock it returns answers beat and phase at any host time during that
// block without allocating or locking. The session must outlive the audio processing that uses
// it (stop the stream, or detach it and let a block pass, before destroying it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace kabel {

class LinkSession;

/// The Link session state captured for one engine block. Audio thread, valid until the next
/// LinkSession::captureBlock().
class LinkBlock {
public:
    /// The beat on the session's timeline at steady time `nanos` (std::chrono::steady_clock
    /// nanoseconds, the MidiClock time base), with bars of `quantum` beats: beat 0, quantum,
    /// 2 quantum ... begin bars in phase with every peer using the same quantum. Resolution
    /// better than a nanosecond's worth of beat: the microsecond Link answers for is completed
    /// linearly at the block's tempo.
    double beatAt(std::int64_t nanos, double quantum) const noexcept;
    /// beatAt() within the bar: in [0, quantum).
    double phaseAt(std::int64_t nanos, double quantum) const noexcept;
    /// The session tempo in BPM.
    double tempo() const noexcept { return tempo_; }

private:
    friend class LinkSession;
    const LinkSession* session_ = nullptr;
    double tempo_ = 120.0;
};

class LinkSession {
public:
    /// UI thread. Link starts disabled (no socket is opened) at `bpm`.
    explicit LinkSession(double bpm = 120.0);
    /// UI thread, with no audio thread using the session any more.
    ~LinkSession();
    LinkSession(const LinkSession&) = delete;
    LinkSession& operator=(const LinkSession&) = delete;

    /// UI thread: joins (true) or leaves (false) the Link session on the local network.
    void enable(bool on);
    /// Any thread.
    bool enabled() const noexcept;
    /// Any thread: other Link applications in the session.
    std::size_t numPeers() const noexcept;

    /// UI thread: the session tempo in BPM.
    double tempo() const;
    /// UI thread: proposes a new tempo to the session (clamped by Link to 20..999 BPM).
    void setTempo(double bpm);
    /// UI thread: the session's beat at steady time `nanos` with bars of `quantum` beats.
    double beatAt(std::int64_t nanos, double quantum) const;

    /// Audio thread, once per block: captures the session state (realtime-safe: no allocation,
    /// no lock) and returns the view modules query during the block.
    const LinkBlock* captureBlock() noexcept;

    /// Any thread: now on the steady clock, in nanoseconds (Link's host time base).
    static std::int64_t nowNanos() noexcept;

private:
    friend class LinkBlock;
    struct Impl;
    std::unique_ptr<Impl> impl_;
    LinkBlock block_;
};

}  // namespace kabel
