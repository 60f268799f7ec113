// OSC parameter control (docs/osc.md). liblo 0.31 (Debian 12) cannot bind a server to one
// address (lo_server_thread always binds the wildcard), so the socket and its thread are ours
// and liblo does the OSC encoding: lo_message_deserialise / lo_message_serialise.
#include "core/io/osc_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <lo/lo.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <utility>

#include "core/engine/session.hpp"
#include "core/module/descriptor.hpp"
#include "core/module/module.hpp"

namespace kabel {

struct OscServer::Entry {
    std::string key;  // "<module-id>/<param-id>"
    std::string moduleId;
    std::string paramId;
    Module* module = nullptr;
    int index = 0;
    const ParamDescriptor* param = nullptr;
    // Written by the receive thread, taken by the UI thread (poll): the value to keep in the document.
    std::atomic<float> pending{0.0f};
    std::atomic<bool> dirty{false};
};

struct OscServer::Table {
    std::vector<Entry> entries;  // sorted by key

    const Entry* find(std::string_view key) const noexcept {
        const auto it = std::lower_bound(entries.begin(), entries.end(), key, [](const Entry& e, std::string_view k) { return e.key < k; });
        return it != entries.end() && it->key == key ? &*it : nullptr;
    }
};

namespace {

constexpr std::string_view kPrefix = "/kabel/";
constexpr int kMaxBundleDepth = 8;

std::string socketAddressText(const sockaddr_storage& address) {
    char text[INET6_ADDRSTRLEN] = {};
    if (address.ss_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(address).sin_addr, text, sizeof text);
    else if (address.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(address).sin6_addr, text, sizeof text);
    return text;
}

int socketPort(const sockaddr_storage& address) {
    if (address.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
    if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
    return 0;
}

// The numeric value of a one-argument message, if it has one.
bool numericArgument(lo_message message, double& value) {
    if (lo_message_get_argc(message) != 1) return false;
    const char* types = lo_message_get_types(message);
    lo_arg** argv = lo_message_get_argv(message);
    switch (types[0]) {
        case LO_FLOAT:
            value = argv[0]->f;
            return true;
        case LO_DOUBLE:
            value = argv[0]->d;
            return true;
        case LO_INT32:
            value = argv[0]->i;
            return true;
        case LO_INT64:
            value = static_cast<double>(argv[0]->h);
            return true;
        case LO_TRUE:
            value = 1.0;
            return true;
        case LO_FALSE:
            value = 0.0;
            return true;
        default:
            return false;
    }
}

}  // namespace

OscServer::OscServer(int port, const std::string& bindAddress, bool replyErrors) : replyErrors_(replyErrors) {
    if (port < 0 || port > 65535) throw OscError("OSC port " + std::to_string(port) + " is out of range (1..65535)");
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string service = std::to_string(port);
    if (const int rc = getaddrinfo(bindAddress.c_str(), service.c_str(), &hints, &found); rc != 0)
        throw OscError("OSC bind address '" + bindAddress + "': " + gai_strerror(rc));
    std::string problem = "no usable address";
    for (addrinfo* a = found; a; a = a->ai_next) {
        const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            problem = std::strerror(errno);
            continue;
        }
        if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0) {
            socket_ = fd;
            break;
        }
        problem = std::strerror(errno);
        ::close(fd);
    }
    freeaddrinfo(found);
    if (socket_ < 0) throw OscError("cannot listen for OSC on " + bindAddress + " port " + service + ": " + problem);

    sockaddr_storage bound{};
    socklen_t length = sizeof bound;
    getsockname(socket_, reinterpret_cast<sockaddr*>(&bound), &length);
    boundAddress_ = socketAddressText(bound);
    port_ = socketPort(bound);

    int pipeFds[2];
    if (::pipe2(pipeFds, O_CLOEXEC) != 0) {
        ::close(socket_);
        throw OscError(std::string("OSC: pipe: ") + std::strerror(errno));
    }
    wakeRead_ = pipeFds[0];
    wakeWrite_ = pipeFds[1];
    table_.store(std::make_shared<const Table>());
    thread_ = std::thread([this] { run(); });
}

OscServer::~OscServer() {
    const char byte = 1;
    while (::write(wakeWrite_, &byte, 1) < 0 && errno == EINTR) {
    }
    if (thread_.joinable()) thread_.join();
    ::close(wakeWrite_);
    ::close(wakeRead_);
    ::close(socket_);
}

OscStats OscServer::stats() const noexcept {
    OscStats s;
    s.received = received_.load(std::memory_order_acquire);  // first: see CountWhenHandled
    s.applied = applied_.load(std::memory_order_relaxed);
    s.queries = queries_.load(std::memory_order_relaxed);
    s.unknown = unknown_.load(std::memory_order_relaxed);
    s.badType = badType_.load(std::memory_order_relaxed);
    s.malformed = malformed_.load(std::memory_order_relaxed);
    s.learns = learns_.load(std::memory_order_relaxed);
    s.unmaps = unmaps_.load(std::memory_order_relaxed);
    return s;
}

void OscServer::run() noexcept {
    std::vector<char> buffer(65536);
    pollfd fds[2] = {{socket_, POLLIN, 0}, {wakeRead_, POLLIN, 0}};
    for (;;) {
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (fds[1].revents) return;
        if (!(fds[0].revents & POLLIN)) continue;
        sockaddr_storage from{};
        socklen_t fromLength = sizeof from;
        const ssize_t n = ::recvfrom(socket_, buffer.data(), buffer.size(), 0, reinterpret_cast<sockaddr*>(&from), &fromLength);
        if (n <= 0) continue;
        handleDatagram(buffer.data(), static_cast<std::size_t>(n), &from, fromLength, 0);
    }
}

void OscServer::handleDatagram(const char* data, std::size_t size, const void* from, unsigned fromLength, int depth) noexcept {
    if (size >= 16 && std::memcmp(data, "#bundle", 8) == 0) {
        if (depth >= kMaxBundleDepth) {
            malformed_.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        std::size_t at = 16;  // "#bundle\0" and the time tag (ignored: applied at once)
        while (at + 4 <= size) {
            std::uint32_t length;
            std::memcpy(&length, data + at, 4);
            length = ntohl(length);
            at += 4;
            if (length > size - at || length % 4 != 0) {
                malformed_.fetch_add(1, std::memory_order_relaxed);
                return;
            }
            handleDatagram(data + at, length, from, fromLength, depth + 1);
            at += length;
        }
        return;
    }
    handleMessage(data, size, from, fromLength);
}

void OscServer::handleMessage(const char* data, std::size_t size, const void* from, unsigned fromLength) noexcept {
    int result = 0;
    lo_message message = lo_message_deserialise(const_cast<char*>(data), size, &result);
    if (!message) {
        malformed_.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    // Counted when the message has been handled (every return below): a reader that sees the
    // count also sees what the message did (the param, the other counters, the reply).
    struct CountWhenHandled {
        std::atomic<std::uint64_t>& count;
        ~CountWhenHandled() { count.fetch_add(1, std::memory_order_release); }
    } countWhenHandled{received_};
    const std::string_view address(data);  // the first OSC string: checked by lo_message_deserialise
    if (queueRequest(address, message, from, fromLength)) {
        lo_message_free(message);
        return;
    }

    // "/kabel/<module>/<param>[/norm|/get]"
    std::string_view key;
    std::string_view suffix;
    if (address.starts_with(kPrefix)) {
        const std::string_view rest = address.substr(kPrefix.size());
        const std::size_t first = rest.find('/');
        const std::size_t second = first == std::string_view::npos ? first : rest.find('/', first + 1);
        key = rest.substr(0, second);
        if (second != std::string_view::npos) suffix = rest.substr(second + 1);
    }
    const std::shared_ptr<const Table> table = table_.load();
    const Entry* entry = key.empty() || (!suffix.empty() && suffix != "norm" && suffix != "get") ? nullptr : table->find(key);
    if (!entry) {
        unknown_.fetch_add(1, std::memory_order_relaxed);
        replyError(from, fromLength, data, "unknown address");
        lo_message_free(message);
        return;
    }
    Entry& target = const_cast<Entry&>(*entry);  // only its atomics change
    if (suffix == "get") {
        queries_.fetch_add(1, std::memory_order_relaxed);  // before the reply: whoever has it sees the count
        lo_message reply = lo_message_new();
        const bool pendingStructural = target.param->structural && target.dirty.load(std::memory_order_acquire);
        lo_message_add_float(reply, pendingStructural ? target.pending.load() : target.module->param(target.index));
        const std::string replyAddress = std::string(kPrefix) + target.key;
        std::size_t length = 0;
        void* bytes = lo_message_serialise(reply, replyAddress.c_str(), nullptr, &length);
        if (bytes) {
            ::sendto(socket_, bytes, length, 0, static_cast<const sockaddr*>(from), fromLength);
            std::free(bytes);
        }
        lo_message_free(reply);
        lo_message_free(message);
        return;
    }
    double value = 0.0;
    if (!numericArgument(message, value) || !std::isfinite(value)) {
        badType_.fetch_add(1, std::memory_order_relaxed);
        replyError(from, fromLength, data, "expected one number (f, i, h, d, T or F)");
        lo_message_free(message);
        return;
    }
    lo_message_free(message);
    const float v = suffix == "norm" ? target.param->fromNormalized(static_cast<float>(std::clamp(value, 0.0, 1.0)))
                                     : target.param->clamp(static_cast<float>(value));
    target.pending.store(v, std::memory_order_relaxed);
    if (!target.param->structural) target.module->setParam(target.index, v);  // structural: the UI thread recompiles
    target.dirty.store(true, std::memory_order_release);
    applied_.fetch_add(1, std::memory_order_relaxed);
}

void OscServer::replyError(const void* from, unsigned fromLength, const char* address, const char* reason) noexcept {
    if (!replyErrors_) return;
    lo_message reply = lo_message_new();
    lo_message_add_string(reply, address);
    lo_message_add_string(reply, reason);
    std::size_t length = 0;
    void* bytes = lo_message_serialise(reply, "/kabel/error", nullptr, &length);
    if (bytes) {
        ::sendto(socket_, bytes, length, 0, static_cast<const sockaddr*>(from), fromLength);
        std::free(bytes);
    }
    lo_message_free(reply);
}

void OscServer::sendTo(const Peer& to, const char* address, void* message) noexcept {
    std::size_t length = 0;
    void* bytes = lo_message_serialise(static_cast<lo_message>(message), address, nullptr, &length);
    if (bytes) {
        ::sendto(socket_, bytes, length, 0, reinterpret_cast<const sockaddr*>(to.address), to.length);
        std::free(bytes);
    }
    lo_message_free(static_cast<lo_message>(message));
}

namespace {

lo_message pairMessage(const std::string& module, const std::string& param) {
    lo_message m = lo_message_new();
    lo_message_add_string(m, module.c_str());
    lo_message_add_string(m, param.c_str());
    return m;
}

lo_message errorMessage(const char* address, const std::string& reason) {
    lo_message m = lo_message_new();
    lo_message_add_string(m, address);
    lo_message_add_string(m, reason.c_str());
    return m;
}

}  // namespace

bool OscServer::queueRequest(std::string_view address, void* message, const void* from, unsigned fromLength) noexcept {
    const bool learn = address == "/kabel/learn";
    if (!learn && address != "/kabel/unmap") return false;
    (learn ? learns_ : unmaps_).fetch_add(1, std::memory_order_relaxed);
    try {
        Request r;
        std::memcpy(r.from.address, from, std::min<std::size_t>(fromLength, sizeof r.from.address));
        r.from.length = std::min<unsigned>(fromLength, sizeof r.from.address);
        const auto msg = static_cast<lo_message>(message);
        const int argc = lo_message_get_argc(msg);
        const std::string_view types = argc > 0 ? lo_message_get_types(msg) : "";
        if (learn && argc == 0) {
            r.kind = Request::Kind::CancelLearn;
        } else if (types == "ss") {
            lo_arg** argv = lo_message_get_argv(msg);
            r.kind = learn ? Request::Kind::Learn : Request::Kind::Unmap;
            r.module = &argv[0]->s;
            r.param = &argv[1]->s;
        } else {
            badType_.fetch_add(1, std::memory_order_relaxed);
            sendTo(r.from, "/kabel/error",
                   errorMessage(learn ? "/kabel/learn" : "/kabel/unmap", learn ? "expected two strings (module, param), or none to cancel"
                                                                               : "expected two strings (module, param)"));
            return true;
        }
        const std::lock_guard lock(requestsMutex_);
        requests_.push_back(std::move(r));
    } catch (...) {  // out of memory: the request is lost, the server keeps running
    }
    return true;
}

void OscServer::serveRequests(Session& session) {
    std::vector<Request> requests;
    {
        const std::lock_guard lock(requestsMutex_);
        requests.swap(requests_);
    }
    for (Request& r : requests) {
        switch (r.kind) {
            case Request::Kind::Learn:
                if (!session.learnMidi(r.module, r.param)) {
                    sendTo(r.from, "/kabel/error",
                           errorMessage("/kabel/learn", "no module '" + r.module + "' with a param '" + r.param + "'"));
                    break;
                }
                if (learnWaiting_)
                    sendTo(learnWaiting_->from, "/kabel/learn/cancelled", pairMessage(learnWaiting_->module, learnWaiting_->param));
                learnedBefore_ = session.learnedCount();
                sendTo(r.from, "/kabel/learning", pairMessage(r.module, r.param));
                learnWaiting_ = std::move(r);
                break;
            case Request::Kind::CancelLearn:
                if (learnWaiting_) {
                    session.cancelLearn();
                    sendTo(learnWaiting_->from, "/kabel/learn/cancelled", pairMessage(learnWaiting_->module, learnWaiting_->param));
                    learnWaiting_.reset();
                }
                break;
            case Request::Kind::Unmap: {
                const int removed = session.unmapMidi(r.module, r.param);
                lo_message reply = pairMessage(r.module, r.param);
                lo_message_add_int32(reply, removed);
                sendTo(r.from, "/kabel/unmapped", reply);
                break;
            }
        }
    }
    if (!learnWaiting_) return;
    const std::optional<MidiMapping>& learned = session.lastLearned();
    if (session.learnedCount() != learnedBefore_ && learned && learned->module == learnWaiting_->module &&
        learned->param == learnWaiting_->param) {
        lo_message reply = pairMessage(learned->module, learned->param);
        lo_message_add_string(reply, learned->source.c_str());
        lo_message_add_int32(reply, learned->channel);
        lo_message_add_int32(reply, learned->number);
        lo_message_add_string(reply, learned->mode.c_str());
        sendTo(learnWaiting_->from, "/kabel/learned", reply);
        learnWaiting_.reset();
    } else if (session.learnedCount() != learnedBefore_ || !session.learning()) {
        // Learned for another target (the editor retargeted it) or cancelled elsewhere.
        sendTo(learnWaiting_->from, "/kabel/learn/cancelled", pairMessage(learnWaiting_->module, learnWaiting_->param));
        learnWaiting_.reset();
    }
}

std::shared_ptr<const OscServer::Table> OscServer::publish(std::shared_ptr<const Table> table) {
    std::shared_ptr<const Table> old = table_.exchange(std::move(table));
    // A handler that loaded the old table holds a reference until it returns (microseconds);
    // after that no thread can reach its Module pointers, so the Session may free them.
    for (int spins = 0; old.use_count() > 1; ++spins) {
        if (spins < 1000)
            std::this_thread::yield();
        else
            std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    return old;
}

void OscServer::flush(Session& session, const Table& table) {
    for (const Entry& e : table.entries) {
        Entry& entry = const_cast<Entry&>(e);
        if (!entry.dirty.load(std::memory_order_relaxed) || !entry.dirty.exchange(false, std::memory_order_acquire)) continue;
        session.setParam(entry.moduleId, entry.paramId, entry.pending.load(std::memory_order_relaxed));
    }
}

void OscServer::poll(Session& session) {
    flush(session, *table_.load());
    serveRequests(session);
    // The table follows the Session's instances: rebuilt only when they changed.
    if (tableSession_ == &session && tableVersion_ == session.instancesVersion()) return;

    struct Row {
        std::string key;
        const ModuleSpec* spec;
        Module* module;
        int index;
    };
    std::vector<Row> rows;
    for (const ModuleSpec& spec : session.patch().modules) {
        Module* module = session.instance(spec.id);
        if (!module) continue;  // a placeholder: no params to set
        const ModuleDescriptor& d = module->descriptor();
        for (std::size_t p = 0; p < d.params.size(); ++p)
            rows.push_back({spec.id + "/" + d.params[p].id, &spec, module, static_cast<int>(p)});
    }
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.key < b.key; });
    auto table = std::make_shared<Table>();
    table->entries = std::vector<Entry>(rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        Entry& e = table->entries[i];
        e.key = std::move(rows[i].key);
        e.moduleId = rows[i].spec->id;
        e.param = &rows[i].module->descriptor().params[static_cast<std::size_t>(rows[i].index)];
        e.paramId = e.param->id;
        e.module = rows[i].module;
        e.index = rows[i].index;
    }
    const std::shared_ptr<const Table> old = publish(std::move(table));
    flush(session, *old);  // values that arrived while the new table was being built
    tableSession_ = &session;
    tableVersion_ = session.instancesVersion();
}

void OscServer::clear() {
    publish(std::make_shared<const Table>());
    tableSession_ = nullptr;
}

}  // namespace kabel
