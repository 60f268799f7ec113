// OscServer: every parameter of a running patch addressable over OSC (UDP), docs/osc.md.
//
//   /kabel/<module-id>/<param-id>       f|i|h|d|T|F  sets the param in its own unit (clamped)
//   /kabel/<module-id>/<param-id>/norm  f|i|h|d      sets it from a 0..1 position (the param's curve)
//   /kabel/<module-id>/<param-id>/get                replies "/kabel/<module-id>/<param-id> f VALUE"
//                                                    to the sender
//   /kabel/learn s s   MODULE PARAM                  arms MIDI learn for that param; replies
//                                                    /kabel/learning ss, then /kabel/learned
//                                                    sssiis MODULE PARAM SOURCE CHANNEL NUMBER MODE
//                                                    (or /kabel/learn/cancelled ss)
//   /kabel/learn       (no arguments)                cancels a learn armed over OSC
//   /kabel/unmap s s   MODULE PARAM                  removes its MIDI mappings; replies
//                                                    /kabel/unmapped ssi MODULE PARAM COUNT
// Bundles are unpacked and applied at once (time tags ignored). Anything else is counted and
// ignored (and, with replyErrors, answered with "/kabel/error ss ADDRESS REASON"; learn and unmap
// errors are always answered).
//
// Threads. The server has its own receive thread, bound to 127.0.0.1 unless told otherwise.
// That thread never touches the Session: it resolves addresses against an immutable lookup table
// (module id + param id -> Module* + index) that the UI thread builds from the Session and
// publishes atomically (std::atomic<std::shared_ptr>). It writes the param's atomic directly
// (Module::setParam) and records the value in the table entry; the UI thread's poll() then writes
// it into the document with Session::setParam so that the next edit keeps it (structural params,
// which need a recompile, are applied only there). Learn and unmap requests are queued (a mutex
// shared with the UI thread only) and carried out by poll() on the Session, which also sends
// their replies. Nothing here runs on the audio thread.
//
// Table lifetime: a Module* in the table stays valid only while the Session keeps the instance.
// poll() rebuilds the table whenever Session::instancesVersion() moved (modules added, removed or
// replaced by any edit). The Session frees removed modules in Session::poll() (after their fade)
// and at once in Session::load(), so: call poll(session) after every edit and before
// Session::poll(); call clear() before Session::load() on a running server. Both return only
// when no message handler can still hold the previous table.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace kabel {

class Module;
class Session;
struct ParamDescriptor;

class OscError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct OscStats {
    std::uint64_t received = 0;   // messages (bundle elements counted one by one)
    std::uint64_t applied = 0;    // param sets (plain and /norm)
    std::uint64_t queries = 0;    // /get answered
    std::uint64_t unknown = 0;    // addresses that name no live module param (or are not /kabel/...)
    std::uint64_t badType = 0;    // a known address with the wrong argument count or type
    std::uint64_t malformed = 0;  // datagrams that are not OSC
    std::uint64_t learns = 0;     // /kabel/learn requests (arm and cancel)
    std::uint64_t unmaps = 0;     // /kabel/unmap requests
};

class OscServer {
public:
    /// Opens a UDP socket on `bindAddress`:`port` (port 0 picks a free one, see port()) and starts
    /// the receive thread. Throws OscError when the address is bad or the port is taken.
    OscServer(int port, const std::string& bindAddress = "127.0.0.1", bool replyErrors = false);
    ~OscServer();
    OscServer(const OscServer&) = delete;
    OscServer& operator=(const OscServer&) = delete;

    /// The bound port and address ("127.0.0.1"), as the socket reports them.
    int port() const noexcept { return port_; }
    const std::string& boundAddress() const noexcept { return boundAddress_; }

    /// UI thread: rebuilds the table when the session's modules changed (instancesVersion()),
    /// writes the values received since the last poll into the session's document, carries out
    /// learn/unmap requests and answers a learn armed over OSC once the Session has added it.
    void poll(Session& session);
    /// UI thread: forgets every module (messages to them become unknown) before Session::load().
    void clear();

    OscStats stats() const noexcept;

private:
    struct Entry;
    struct Table;
    struct Peer {
        unsigned char address[128] = {};  // a sockaddr_storage
        unsigned length = 0;
    };
    struct Request {
        enum class Kind { Learn, CancelLearn, Unmap } kind = Kind::Learn;
        std::string module, param;
        Peer from;
    };

    void run() noexcept;
    void handleDatagram(const char* data, std::size_t size, const void* from, unsigned fromLength, int depth) noexcept;
    void handleMessage(const char* data, std::size_t size, const void* from, unsigned fromLength) noexcept;
    /// Swaps in `table`; returns the old one once no handler holds it (the caller holds none).
    std::shared_ptr<const Table> publish(std::shared_ptr<const Table> table);
    void flush(Session& session, const Table& table);
    void replyError(const void* from, unsigned fromLength, const char* address, const char* reason) noexcept;
    /// Receive thread: queues /kabel/learn and /kabel/unmap (true when `address` is one of them).
    bool queueRequest(std::string_view address, void* message, const void* from, unsigned fromLength) noexcept;
    void serveRequests(Session& session);
    void sendTo(const Peer& to, const char* address, void* message) noexcept;

    int socket_ = -1;
    int wakeRead_ = -1;
    int wakeWrite_ = -1;
    int port_ = 0;
    std::string boundAddress_;
    bool replyErrors_ = false;
    std::atomic<std::shared_ptr<const Table>> table_;
    const Session* tableSession_ = nullptr;  // UI thread: the session and instancesVersion() the table is from
    std::uint64_t tableVersion_ = 0;
    std::mutex requestsMutex_;  // receive thread <-> UI thread (never the audio thread)
    std::vector<Request> requests_;
    std::optional<Request> learnWaiting_;  // UI thread: a learn armed over OSC, to answer
    std::uint64_t learnedBefore_ = 0;
    std::atomic<std::uint64_t> received_{0}, applied_{0}, queries_{0}, unknown_{0}, badType_{0}, malformed_{0}, learns_{0}, unmaps_{0};
    std::thread thread_;
};

}  // namespace kabel
