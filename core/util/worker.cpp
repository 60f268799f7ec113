#include "core/util/worker.hpp"

namespace kabel {

Worker::Worker() : thread_([this] { run(); }) {}

Worker::~Worker() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
        jobs_.clear();
    }
    wake_.notify_all();
    thread_.join();
}

void Worker::post(Job job) {
    {
        std::lock_guard lock(mutex_);
        jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
}

int Worker::runCompletions() {
    std::deque<Completion> ready;
    {
        std::lock_guard lock(mutex_);
        ready.swap(completions_);
    }
    for (auto& completion : ready) completion();
    return static_cast<int>(ready.size());
}

void Worker::drain() {
    {
        std::unique_lock lock(mutex_);
        idle_.wait(lock, [&] { return jobs_.empty() && !busy_; });
    }
    // A completion may post more work (e.g. a load that needs a second pass): drain until quiet.
    while (runCompletions() > 0) {
        std::unique_lock lock(mutex_);
        idle_.wait(lock, [&] { return jobs_.empty() && !busy_; });
    }
}

void Worker::run() {
    const std::function<void(Completion)> complete = [this](Completion c) {
        std::lock_guard lock(mutex_);
        completions_.push_back(std::move(c));
    };
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
        if (stop_) return;
        Job job = std::move(jobs_.front());
        jobs_.pop_front();
        busy_ = true;
        lock.unlock();
        job(complete);
        lock.lock();
        busy_ = false;
        if (jobs_.empty()) idle_.notify_all();
    }
}

}  // namespace kabel
