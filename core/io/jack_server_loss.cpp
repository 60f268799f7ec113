#include "core/io/jack_server_loss.hpp"

#include <dlfcn.h>
#include <jack/jack.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace kabel {
namespace {

// One client that registered a shutdown handler. Slots are claimed and released on the UI
// thread (under gMutex); `dead` is set by libjack's thread and read anywhere.
struct Registration {
    std::atomic<jack_client_t*> client{nullptr};
    JackShutdownCallback handler = nullptr;
    void* arg = nullptr;
    std::atomic<bool> dead{false};
};

constexpr std::size_t kSlots = 16;
std::array<Registration, kSlots> gSlots;
std::mutex gMutex;

// libjack's own definition of `name` (the next one after this program's).
template <typename Fn>
Fn realJack(const char* name) {
    void* symbol = dlsym(RTLD_NEXT, name);
    if (!symbol) {
        std::fprintf(stderr, "kabel: libjack has no %s\n", name);
        std::abort();
    }
    return reinterpret_cast<Fn>(symbol);
}

Registration* slotOf(jack_client_t* client) noexcept {
    for (Registration& r : gSlots)
        if (r.client.load(std::memory_order_acquire) == client) return &r;
    return nullptr;
}

bool isDead(jack_client_t* client) noexcept {
    const Registration* r = client ? slotOf(client) : nullptr;
    return r && r->dead.load(std::memory_order_acquire);
}

// Runs on libjack's thread when the server goes away.
void shutdownTrampoline(void* arg) {
    auto& r = *static_cast<Registration*>(arg);
    r.dead.store(true, std::memory_order_release);
    if (r.handler) r.handler(r.arg);
}

}  // namespace

bool jackClientLost() noexcept {
    for (const Registration& r : gSlots)
        if (r.client.load(std::memory_order_acquire) && r.dead.load(std::memory_order_acquire)) return true;
    return false;
}

void releaseDeadJackStream(const std::function<void()>& close) {
    std::atomic<bool> closing{true};
    std::thread kicker([&closing] {
        while (closing.load()) {
            for (Registration& r : gSlots)
                if (r.client.load(std::memory_order_acquire) && r.dead.load(std::memory_order_acquire) && r.handler) r.handler(r.arg);
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    });
    close();
    closing.store(false);
    kicker.join();
}

bool jackServerLossGuardActive() {
    return dlsym(RTLD_DEFAULT, "jack_port_unregister") == reinterpret_cast<void*>(&::jack_port_unregister) &&
           dlsym(RTLD_DEFAULT, "jack_on_shutdown") == reinterpret_cast<void*>(&::jack_on_shutdown);
}

}  // namespace kabel

// The interposers (see the header). Same signatures as <jack/jack.h>.
extern "C" {

void jack_on_shutdown(jack_client_t* client, JackShutdownCallback function, void* arg) {
    using namespace kabel;
    static const auto real = realJack<void (*)(jack_client_t*, JackShutdownCallback, void*)>("jack_on_shutdown");
    std::lock_guard<std::mutex> lock(gMutex);
    Registration* slot = slotOf(client);
    if (!slot) slot = slotOf(nullptr);
    if (!slot || !client) {
        real(client, function, arg);  // no room to track it: libjack's plain behaviour
        return;
    }
    slot->handler = function;
    slot->arg = arg;
    slot->dead.store(false, std::memory_order_release);
    slot->client.store(client, std::memory_order_release);
    real(client, &shutdownTrampoline, slot);
}

int jack_port_unregister(jack_client_t* client, jack_port_t* port) {
    static const auto real = kabel::realJack<int (*)(jack_client_t*, jack_port_t*)>("jack_port_unregister");
    const int result = real(client, port);
    return kabel::isDead(client) ? 0 : result;
}

int jack_deactivate(jack_client_t* client) {
    static const auto real = kabel::realJack<int (*)(jack_client_t*)>("jack_deactivate");
    const int result = real(client);
    return kabel::isDead(client) ? 0 : result;
}

int jack_client_close(jack_client_t* client) {
    using namespace kabel;
    static const auto real = realJack<int (*)(jack_client_t*)>("jack_client_close");
    const bool dead = isDead(client);
    const int result = real(client);
    {
        std::lock_guard<std::mutex> lock(gMutex);
        if (Registration* slot = client ? slotOf(client) : nullptr) {
            slot->handler = nullptr;
            slot->arg = nullptr;
            slot->dead.store(false, std::memory_order_release);
            slot->client.store(nullptr, std::memory_order_release);
        }
    }
    return dead ? 0 : result;
}

}  // extern "C"
