// Worker: one background thread for slow work (decoding audio files, building wavetables and
// impulse responses), off both the UI and the audio thread.
//
// Design note. Jobs run on the worker thread in the order posted. A job may hand a completion
// back to the UI thread (post a function with `complete`); completions run when the UI thread
// calls runCompletions() (Session::poll does), so results are applied — and published to the
// audio thread — from the thread that owns the patch. Nothing here is for the audio thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace kabel {

class Worker {
public:
    /// Completion: a function the worker hands back to run on the UI thread.
    using Completion = std::function<void()>;
    /// A job gets a way to hand back its completion (call it at most once).
    using Job = std::function<void(const std::function<void(Completion)>& complete)>;

    /// UI thread. Starts the thread.
    Worker();
    /// UI thread. Finishes the running job, drops the others (and their completions), joins.
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    /// UI thread (or a job): runs `job` on the worker thread after the jobs posted before it.
    void post(Job job);

    /// UI thread: runs the completions handed back so far. Returns how many ran.
    int runCompletions();

    /// UI thread: waits until every posted job has run, then runs the completions (tests,
    /// offline renders that must start with everything loaded).
    void drain();

private:
    void run();

    std::mutex mutex_;
    std::condition_variable wake_, idle_;
    std::deque<Job> jobs_;
    std::deque<Completion> completions_;
    bool busy_ = false;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace kabel
