// OscServer: messages sent with liblo's lo_send to a server on a free localhost port change the
// params of a live Session exactly (docs/osc.md).
#include <arpa/inet.h>
#include <lo/lo.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "core/engine/engine.hpp"
#include "core/engine/session.hpp"
#include "core/io/osc_server.hpp"
#include "core/module/registry.hpp"
#include "core/patch/patch_file.hpp"

namespace {

using namespace kabel;

constexpr const char* kPatch = R"({"format": "kabel-patch", "version": 1,
  "modules": [{"id": "osc", "type": "sine", "params": {"freq": 440.0}},
              {"id": "hiss", "type": "noise", "params": {"channels": 1}},
              {"id": "out", "type": "out", "params": {"level": 0.5}}],
  "cables": [{"from": "osc.out", "to": "out.left"}]})";

struct Fixture {
    Engine engine{EngineConfig{48000.0, 64, 2, false}};
    Session session{engine, Registry::global()};
    OscServer server{0};
    lo_address target = nullptr;

    Fixture() {
        session.load(parsePatch(kPatch, "osc.kabel", Registry::global()).patch);
        server.poll(session);
        target = lo_address_new("127.0.0.1", std::to_string(server.port()).c_str());
    }
    ~Fixture() { lo_address_free(target); }

    // Waits (bounded) until the server has taken `count` messages in all.
    bool waitReceived(std::uint64_t count) const {
        for (int i = 0; i < 2000; ++i) {
            if (server.stats().received >= count) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return false;
    }
    float param(const char* module, const char* id) const {
        const Module* m = session.instance(module);
        return m->param(m->descriptor().paramIndex(id));
    }
};

}  // namespace

TEST_CASE("OSC float sets the param exactly and the document follows on poll", "[osc]") {
    Fixture f;
    REQUIRE(f.param("osc", "freq") == 440.0f);
    REQUIRE(lo_send(f.target, "/kabel/osc/freq", "f", 880.0f) > 0);
    REQUIRE(f.waitReceived(1));
    CHECK(f.param("osc", "freq") == 880.0f);
    CHECK(f.server.stats().applied == 1);
    f.server.poll(f.session);
    CHECK(f.session.patch().findModule("osc")->params.at("freq") == 880.0);
    // An edit re-applies the document: the OSC value survives it.
    f.session.edit([](Patch& p) { p.findModule("out")->params["level"] = 0.25; });
    CHECK(f.param("osc", "freq") == 880.0f);
}

TEST_CASE("OSC int double and true false arguments are accepted", "[osc]") {
    Fixture f;
    REQUIRE(lo_send(f.target, "/kabel/osc/freq", "i", 1000) > 0);
    REQUIRE(f.waitReceived(1));
    CHECK(f.param("osc", "freq") == 1000.0f);
    REQUIRE(lo_send(f.target, "/kabel/osc/freq", "d", 1234.5) > 0);
    REQUIRE(f.waitReceived(2));
    CHECK(f.param("osc", "freq") == 1234.5f);
    REQUIRE(lo_send(f.target, "/kabel/out/level", "F") > 0);
    REQUIRE(f.waitReceived(3));
    CHECK(f.param("out", "level") == 0.0f);
    REQUIRE(lo_send(f.target, "/kabel/out/level", "T") > 0);
    REQUIRE(f.waitReceived(4));
    CHECK(f.param("out", "level") == 1.0f);
    CHECK(f.server.stats().applied == 4);
}

TEST_CASE("OSC values are clamped to the param range", "[osc]") {
    Fixture f;
    const ParamDescriptor& d = f.session.instance("osc")->descriptor().params[0];
    REQUIRE(d.id == "freq");
    REQUIRE(lo_send(f.target, "/kabel/osc/freq", "f", 1.0e6f) > 0);
    REQUIRE(f.waitReceived(1));
    CHECK(f.param("osc", "freq") == d.max);
    REQUIRE(lo_send(f.target, "/kabel/osc/freq", "f", -5.0f) > 0);
    REQUIRE(f.waitReceived(2));
    CHECK(f.param("osc", "freq") == d.min);
}

TEST_CASE("OSC norm maps 0 to 1 along the exponential curve", "[osc]") {
    Fixture f;
    // freq: 0.1 .. 20000 Hz, exponential: x = 0.5 is the geometric mean sqrt(0.1 * 20000) = 44.72 Hz.
    REQUIRE(lo_send(f.target, "/kabel/osc/freq/norm", "f", 0.5f) > 0);
    REQUIRE(f.waitReceived(1));
    CHECK(f.param("osc", "freq") == Approx(std::sqrt(0.1 * 20000.0)).epsilon(1e-5));
    REQUIRE(lo_send(f.target, "/kabel/osc/freq/norm", "f", 1.0f) > 0);
    REQUIRE(f.waitReceived(2));
    CHECK(f.param("osc", "freq") == Approx(20000.0f).epsilon(1e-6));
    REQUIRE(lo_send(f.target, "/kabel/osc/freq/norm", "f", 7.0f) > 0);  // clamped to 1
    REQUIRE(f.waitReceived(3));
    CHECK(f.param("osc", "freq") == Approx(20000.0f).epsilon(1e-6));
    // out.level: linear 0..1 (a quarter of the way is 0.25 of the range).
    const ParamDescriptor& level = f.session.instance("out")->descriptor().params[0];
    REQUIRE(lo_send(f.target, "/kabel/out/level/norm", "f", 0.25f) > 0);
    REQUIRE(f.waitReceived(4));
    CHECK(f.param("out", "level") == Approx(level.fromNormalized(0.25f)));
}

namespace {
float gReplyValue = -1.0f;
std::string gReplyPath;
int replyHandler(const char* path, const char* types, lo_arg** argv, int argc, lo_message, void*) {
    gReplyPath = path;
    if (argc == 1 && types[0] == 'f') gReplyValue = argv[0]->f;
    return 0;
}
}  // namespace

TEST_CASE("OSC get replies to the sender with the current value", "[osc]") {
    Fixture f;
    lo_server client = lo_server_new_with_proto(nullptr, LO_UDP, nullptr);  // a free port
    REQUIRE(client);
    lo_server_add_method(client, nullptr, nullptr, replyHandler, nullptr);
    gReplyValue = -1.0f;
    gReplyPath.clear();
    REQUIRE(lo_send_from(f.target, client, LO_TT_IMMEDIATE, "/kabel/osc/freq/get", "") > 0);
    REQUIRE(lo_server_recv_noblock(client, 2000) > 0);
    CHECK(gReplyPath == "/kabel/osc/freq");
    CHECK(gReplyValue == 440.0f);
    CHECK(f.server.stats().queries == 1);
    lo_server_free(client);
}

TEST_CASE("OSC unknown addresses and bad types are counted and ignored", "[osc]") {
    Fixture f;
    REQUIRE(lo_send(f.target, "/kabel/nosuch/freq", "f", 1.0f) > 0);
    REQUIRE(lo_send(f.target, "/kabel/osc/nosuch", "f", 1.0f) > 0);
    REQUIRE(lo_send(f.target, "/kabel/osc/freq/wobble", "f", 1.0f) > 0);
    REQUIRE(lo_send(f.target, "/other/osc/freq", "f", 1.0f) > 0);
    REQUIRE(lo_send(f.target, "/kabel/osc/freq", "s", "loud") > 0);
    REQUIRE(lo_send(f.target, "/kabel/osc/freq", "ff", 1.0f, 2.0f) > 0);
    REQUIRE(lo_send(f.target, "/kabel/osc/freq", "") > 0);
    REQUIRE(f.waitReceived(7));
    const OscStats s = f.server.stats();
    CHECK(s.unknown == 4);
    CHECK(s.badType == 3);
    CHECK(s.applied == 0);
    CHECK(f.param("osc", "freq") == 440.0f);
}

TEST_CASE("OSC to a module removed by an edit is a no-op", "[osc]") {
    Fixture f;
    f.session.edit([](Patch& p) {
        std::erase_if(p.cables, [](const CableSpec& c) { return c.from.module == "osc"; });
        std::erase_if(p.modules, [](const ModuleSpec& m) { return m.id == "osc"; });
    });
    f.server.poll(f.session);  // after the edit, before Session::poll may free the ghost
    for (int i = 0; i < 50; ++i) {
        f.session.poll();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    REQUIRE(f.session.instance("osc") == nullptr);
    for (int i = 0; i < 100; ++i) REQUIRE(lo_send(f.target, "/kabel/osc/freq", "f", 100.0f + i) > 0);
    REQUIRE(f.waitReceived(100));
    CHECK(f.server.stats().unknown == 100);
    CHECK(f.server.stats().applied == 0);
    // The module that stays still answers.
    REQUIRE(lo_send(f.target, "/kabel/out/level", "f", 0.125f) > 0);
    REQUIRE(f.waitReceived(101));
    CHECK(f.param("out", "level") == 0.125f);
}

TEST_CASE("OSC structural params are applied by the UI thread", "[osc]") {
    Fixture f;
    REQUIRE(lo_send(f.target, "/kabel/hiss/channels", "i", 4) > 0);
    REQUIRE(f.waitReceived(1));
    CHECK(f.param("hiss", "channels") == 1.0f);  // not yet: a recompile is needed
    f.server.poll(f.session);
    CHECK(f.param("hiss", "channels") == 4.0f);
    CHECK(f.session.patch().findModule("hiss")->params.at("channels") == 4.0);
}

TEST_CASE("OSC binds to localhost by default", "[osc]") {
    OscServer server(0);
    CHECK(server.boundAddress() == "127.0.0.1");
    CHECK(server.port() > 0);
    OscServer open(0, "0.0.0.0");
    CHECK(open.boundAddress() == "0.0.0.0");
    // The same port twice is an error that says which port.
    CHECK_THROWS_AS(OscServer(server.port()), OscError);
    CHECK_THROWS_AS(OscServer(0, "not an address"), OscError);
}

namespace {
// Collects the replies a client socket receives (liblo server on a free port).
struct Client {
    lo_server server = lo_server_new_with_proto(nullptr, LO_UDP, nullptr);
    std::vector<std::string> paths;
    std::vector<std::string> texts;  // each reply's arguments, space separated
    Client() { lo_server_add_method(server, nullptr, nullptr, &Client::handler, this); }
    ~Client() { lo_server_free(server); }
    static int handler(const char* path, const char* types, lo_arg** argv, int argc, lo_message, void* user) {
        auto* self = static_cast<Client*>(user);
        self->paths.emplace_back(path);
        std::string text;
        for (int i = 0; i < argc; ++i) {
            if (i) text += ' ';
            if (types[i] == 's') text += &argv[i]->s;
            if (types[i] == 'i') text += std::to_string(argv[i]->i);
        }
        self->texts.push_back(text);
        return 0;
    }
    // Waits (bounded) for one more reply.
    bool receive() { return lo_server_recv_noblock(server, 2000) > 0; }
};
}  // namespace

TEST_CASE("OSC learn arms MIDI learn from the UI poll and replies with the learned control", "[osc][midi]") {
    Fixture f;
    f.session.setLearnWindow(std::chrono::milliseconds(0));
    Client client;
    REQUIRE(client.server);
    REQUIRE(lo_send_from(f.target, client.server, LO_TT_IMMEDIATE, "/kabel/learn", "ss", "osc", "freq") > 0);
    REQUIRE(f.waitReceived(1));
    CHECK_FALSE(f.session.learning());  // the receive thread only queues it
    f.server.poll(f.session);
    CHECK(f.session.learning());
    REQUIRE(client.receive());
    CHECK(client.paths.back() == "/kabel/learning");
    CHECK(client.texts.back() == "osc freq");

    REQUIRE(f.engine.midiInput(0).push(f.engine.deviceFrame(), 0xB4, 74, 64));
    f.engine.processBlock();
    f.server.poll(f.session);
    f.session.poll();          // adds the mapping
    f.server.poll(f.session);  // answers
    REQUIRE(client.receive());
    CHECK(client.paths.back() == "/kabel/learned");
    CHECK(client.texts.back() == "osc freq cc 5 74 absolute");
    REQUIRE(f.session.patch().midiMap.size() == 1);
    CHECK(f.session.patch().midiMap[0].module == "osc");
    CHECK(f.server.stats().learns == 1);

    // Unmap replies with the count removed.
    REQUIRE(lo_send_from(f.target, client.server, LO_TT_IMMEDIATE, "/kabel/unmap", "ss", "osc", "freq") > 0);
    REQUIRE(f.waitReceived(2));
    f.server.poll(f.session);
    REQUIRE(client.receive());
    CHECK(client.paths.back() == "/kabel/unmapped");
    CHECK(client.texts.back() == "osc freq 1");
    CHECK(f.session.patch().midiMap.empty());
    CHECK(f.server.stats().unmaps == 1);
}

TEST_CASE("OSC learn errors and cancel are answered", "[osc][midi]") {
    Fixture f;
    Client client;
    REQUIRE(lo_send_from(f.target, client.server, LO_TT_IMMEDIATE, "/kabel/learn", "ss", "osc", "nope") > 0);
    REQUIRE(f.waitReceived(1));
    f.server.poll(f.session);
    REQUIRE(client.receive());
    CHECK(client.paths.back() == "/kabel/error");
    CHECK(client.texts.back() == "/kabel/learn no module 'osc' with a param 'nope'");
    CHECK_FALSE(f.session.learning());

    REQUIRE(lo_send_from(f.target, client.server, LO_TT_IMMEDIATE, "/kabel/learn", "si", "osc", 3) > 0);
    REQUIRE(f.waitReceived(2));
    REQUIRE(client.receive());  // answered by the receive thread at once
    CHECK(client.texts.back() == "/kabel/learn expected two strings (module, param), or none to cancel");
    CHECK(f.server.stats().badType == 1);

    REQUIRE(lo_send_from(f.target, client.server, LO_TT_IMMEDIATE, "/kabel/learn", "ss", "out", "level") > 0);
    REQUIRE(lo_send_from(f.target, client.server, LO_TT_IMMEDIATE, "/kabel/learn", "") > 0);
    REQUIRE(f.waitReceived(4));
    f.server.poll(f.session);
    REQUIRE(client.receive());
    CHECK(client.paths.back() == "/kabel/learning");
    REQUIRE(client.receive());
    CHECK(client.paths.back() == "/kabel/learn/cancelled");
    CHECK(client.texts.back() == "out level");
    CHECK_FALSE(f.session.learning());

    // Cancelled elsewhere (the editor): the OSC client is told at the next poll.
    REQUIRE(lo_send_from(f.target, client.server, LO_TT_IMMEDIATE, "/kabel/learn", "ss", "out", "level") > 0);
    REQUIRE(f.waitReceived(5));
    f.server.poll(f.session);
    REQUIRE(client.receive());
    f.session.cancelLearn();
    f.server.poll(f.session);
    REQUIRE(client.receive());
    CHECK(client.paths.back() == "/kabel/learn/cancelled");
}

TEST_CASE("the OSC table follows modules added by an edit and skips param-only edits", "[osc]") {
    Fixture f;
    const std::uint64_t version = f.session.instancesVersion();
    f.session.edit([](Patch& p) { p.findModule("out")->params["level"] = 0.25; });
    CHECK(f.session.instancesVersion() == version);  // no rebuild needed
    f.session.edit([](Patch& p) {
        ModuleSpec spec;
        spec.id = "osc2";
        spec.type = "sine";
        p.modules.push_back(spec);
    });
    CHECK(f.session.instancesVersion() != version);
    f.server.poll(f.session);
    REQUIRE(lo_send(f.target, "/kabel/osc2/freq", "f", 330.0f) > 0);
    REQUIRE(f.waitReceived(1));
    CHECK(f.param("osc2", "freq") == 330.0f);
    CHECK(f.server.stats().unknown == 0);
}
