// OscServer: every parameter of a running patch addressable over OSC (UDP), docs/osc.md.
//
//   /kabel/<module-id>/<param-id>       f|i|h|d|T|F  sets the param in its own unit (clamped)
//   /kabel/<module-id>/<param-id>/norm  f|i|h|d      sets it from a 0..1 position (the param's curve)
//   /kabel/<module-id>/<param-id>/get                replies "/kabel/<module-id>/<param-id> f VALUE"
//                                                    to the sender
// Bundles are unpacked and applied at once (time tags ignored). Anything else is counted and
// ignored (and, with replyErrors, answered with "/kabel/error ss ADDRESS REASON").
//
// Threads. The server has its own receive thread, bound to 127.0.0.1 unless told otherwise.
// That thread never touches the Session: it resolves addresses against an immutable lookup table
// (module id + param id -> Module* + index) that the UI thread builds from the Session and
// publishes atomically (std::atomic<std::shared_ptr>). It writes the param's atomic directly
// (Module::setParam) and records the value in the table entry; the UI thread's poll() then writes
// it into the document with Session::setParam so that the next edit keeps it (structural params,
// which need a recompile, are applied only there). Nothing here runs on the audio thread.
//
// Table lifetime: a Module* in the table stays valid only while the Session keeps the instance.
// The Session frees removed modules in Session::poll() (after their fade) and at once in
// Session::load(), so: call poll(session) after every edit and before Session::poll(); call
// clear() before Session::load() on a running server. Both return only when no message handler
// can still hold the previous table.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
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

    /// UI thread: rebuilds the table when the session's modules changed (ids, instances, types)
    /// and writes the values received since the last poll into the session's document.
    void poll(Session& session);
    /// UI thread: forgets every module (messages to them become unknown) before Session::load().
    void clear();

    OscStats stats() const noexcept;

private:
    struct Entry;
    struct Table;

    void run() noexcept;
    void handleDatagram(const char* data, std::size_t size, const void* from, unsigned fromLength, int depth) noexcept;
    void handleMessage(const char* data, std::size_t size, const void* from, unsigned fromLength) noexcept;
    /// Swaps in `table`; returns the old one once no handler holds it (the caller holds none).
    std::shared_ptr<const Table> publish(std::shared_ptr<const Table> table);
    void flush(Session& session, const Table& table);
    void replyError(const void* from, unsigned fromLength, const char* address, const char* reason) noexcept;

    int socket_ = -1;
    int wakeRead_ = -1;
    int wakeWrite_ = -1;
    int port_ = 0;
    std::string boundAddress_;
    bool replyErrors_ = false;
    std::atomic<std::shared_ptr<const Table>> table_;
    std::vector<std::pair<std::string, const void*>> signature_;  // UI thread: the modules the table was built from
    std::atomic<std::uint64_t> received_{0}, applied_{0}, queries_{0}, unknown_{0}, badType_{0}, malformed_{0};
    std::thread thread_;
};

}  // namespace kabel
