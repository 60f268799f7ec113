// Immutable data for the audio thread: RtValue hands a value (a sample, a wavetable, a step
// pattern, an impulse response) from the UI thread to the audio thread and hands the value it
// replaces back to be freed on the UI thread; AsyncLoad builds such a value on the background
// worker first (decoding a file) and reports failures without disturbing what is playing.
//
// Design note (STYLE.md §8): musical data is an immutable value built off the audio thread and
// swapped in whole. The audio thread only exchanges pointers through two SPSC queues: it never
// allocates or frees, and it always has a complete value (the old one until the new one arrives).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/util/spsc_queue.hpp"
#include "core/util/worker.hpp"

namespace kabel {

template <typename T>
class RtValue {
public:
    /// UI thread. `capacity`: values that may be in flight in each direction.
    explicit RtValue(std::size_t capacity = 8) : incoming_(capacity), outgoing_(capacity) {}

    /// UI thread, when no plan runs the owner any more: frees every value.
    ~RtValue() {
        collect();
        const T* p = nullptr;
        while (incoming_.pop(p)) delete p;
        delete current_;
    }
    RtValue(const RtValue&) = delete;
    RtValue& operator=(const RtValue&) = delete;

    /// UI thread: hands `value` to the audio thread (it takes it at its next get()). False, and
    /// `value` kept by the caller, when too many replacements are in flight (collect() first).
    bool publish(std::unique_ptr<const T>& value) {
        if (!value) return true;
        const T* raw = value.get();
        if (!incoming_.push(std::move(raw))) return false;
        latest_ = value.release();
        return true;
    }

    /// UI thread: frees the values the audio thread has replaced.
    void collect() {
        const T* p = nullptr;
        while (outgoing_.pop(p)) delete p;
    }

    /// UI thread: the value published last (what the audio thread plays once it has taken it);
    /// valid until the next publish() and collect().
    const T* latest() const noexcept { return latest_; }

    /// Audio thread: the newest value published (nullptr before the first). Never allocates or
    /// frees: replaced values go back to the UI thread.
    const T* get() noexcept {
        const T* next = nullptr;
        while (!outgoing_.full() && incoming_.pop(next)) {
            if (current_) outgoing_.push(std::move(current_));
            current_ = next;
        }
        return current_;
    }

private:
    SpscQueue<const T*> incoming_;  // UI -> audio
    SpscQueue<const T*> outgoing_;  // audio -> UI, to be freed
    const T* current_ = nullptr;    // audio thread
    const T* latest_ = nullptr;     // UI thread
};

/// A value loaded on the background worker and published to the audio thread. A failed load
/// leaves the current value playing and keeps its message (error()). A newer request supersedes
/// an unfinished one. UI thread except get().
template <typename T>
class AsyncLoad {
public:
    /// Runs on the worker; returns the value or throws std::exception whose what() is the message
    /// the user sees ("kick.wav: not a sound file").
    using Loader = std::function<std::unique_ptr<T>()>;

    AsyncLoad() : alive_(std::make_shared<char>()) {}
    AsyncLoad(const AsyncLoad&) = delete;
    AsyncLoad& operator=(const AsyncLoad&) = delete;

    /// UI thread: starts loading. With no worker (tests), loads at once on this thread.
    void request(Worker* worker, Loader loader) {
        const std::uint64_t generation = ++requested_;
        pending_ = true;
        if (!worker) {
            finish(generation, run(loader));
            return;
        }
        std::weak_ptr<char> alive = alive_;
        worker->post([this, alive, generation, loader = std::move(loader)](const std::function<void(Worker::Completion)>& complete) {
            auto result = std::make_shared<Result>(run(loader));
            complete([this, alive, generation, result] {
                if (alive.lock()) finish(generation, std::move(*result));  // this still exists: same (UI) thread
            });
        });
    }

    /// UI thread: publishes nothing new; clears the value (e.g. the state names no file).
    void clear() {
        ++requested_;
        pending_ = false;
        error_.clear();
        std::unique_ptr<const T> none = std::make_unique<const T>();
        publish(none);
    }

    /// Audio thread: the loaded value (nullptr before the first successful load).
    const T* get() noexcept { return value_.get(); }

    /// UI thread, regularly (Module::idle): frees replaced values, publishes a value that did not
    /// fit in the queue before.
    void collect() {
        value_.collect();
        if (waiting_) publish(waiting_);
    }

    /// UI thread.
    const std::string& error() const noexcept { return error_; }
    bool pending() const noexcept { return pending_; }
    /// UI thread: the value published last (for displays).
    const T* latest() const noexcept { return value_.latest(); }

private:
    struct Result {
        std::unique_ptr<T> value;
        std::string error;
    };

    static Result run(const Loader& loader) {
        Result r;
        try {
            r.value = loader();
            if (!r.value) r.error = "nothing loaded";
        } catch (const std::exception& e) {
            r.error = e.what();
        }
        return r;
    }

    void finish(std::uint64_t generation, Result result) {
        if (generation != requested_) return;  // superseded by a newer request
        pending_ = false;
        error_ = std::move(result.error);
        if (!result.value) return;
        std::unique_ptr<const T> value(result.value.release());
        publish(value);
    }

    void publish(std::unique_ptr<const T>& value) {
        if (value_.publish(value)) {
            waiting_.reset();
        } else {
            waiting_ = std::move(value);  // the queue is full: try again at the next collect()
        }
    }

    RtValue<T> value_;
    std::unique_ptr<const T> waiting_;
    std::shared_ptr<char> alive_;  // completions check it: they never reach a destroyed AsyncLoad
    std::uint64_t requested_ = 0;
    bool pending_ = false;
    std::string error_;
};

}  // namespace kabel
