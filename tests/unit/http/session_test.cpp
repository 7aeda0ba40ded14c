// The HTTP/1.1 session driven in-process over boost::beast::test::stream (through TestTransport):
// requests arriving a byte at a time, pipelining, a body cut mid-way, header, body and idle
// timeouts, a client that stops reading while a stream is written, a write failure at every step.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/_experimental/test/fail_count.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "http/session_impl.hpp"
#include "support/run_awaitable.hpp"
#include "unit/http/test_transport.hpp"

namespace parley::http {
namespace {

namespace bj = boost::json;
using namespace std::chrono_literals;
using testing::TestTransport;
using Clock = std::chrono::steady_clock;

struct Parsed {
    int status = 0;
    std::string body;
    bool keep_alive = true;
};

// Every complete response in `wire`, in order (chunked bodies joined).
std::vector<Parsed> parse_responses(std::string_view wire) {
    std::vector<Parsed> out;
    while (!wire.empty()) {
        bhttp::response_parser<bhttp::string_body> parser;
        parser.eager(true);
        boost::system::error_code ec;
        const auto n = parser.put(asio::buffer(wire.data(), wire.size()), ec);
        if (ec || !parser.is_done()) {
            break;
        }
        const auto& res = parser.get();
        if (res.result_int() >= 200) {
            out.push_back({static_cast<int>(res.result_int()), res.body(), res.keep_alive()});
        }
        wire.remove_prefix(n);
    }
    return out;
}

// One session over a test stream, with a router built by each test.
class SessionTest : public ::testing::Test {
protected:
    SessionTest() {
        limits_.header_timeout = 2s;
        limits_.body_timeout = 2s;
        limits_.idle_timeout = 2s;
    }

    // Starts the session; the client end is `client_`.
    void start(
        std::size_t window = std::numeric_limits<std::size_t>::max(),
        boost::beast::test::fail_count* fc = nullptr
    ) {
        router_.emplace(std::move(routes_));
        pipeline_.emplace(*router_, metrics_, PipelineOptions{{}, 0, false});
        shared_.emplace(SessionShared{*pipeline_, limits_, draining_, proxies_});
        auto server = fc ? boost::beast::test::stream(ioc_, *fc) : boost::beast::test::stream(ioc_);
        client_.connect(server);
        TestTransport transport(std::move(server), client_, window);
        transport.read_size(read_size_);
        transport.immediate_writes(immediate_writes_);
        started_at_ = Clock::now();
        asio::co_spawn(ioc_, run(std::move(transport)), [this](std::exception_ptr e) {
            failure_ = e;
            finished_ = true;
            finished_at_ = Clock::now();
        });
    }

    // The session itself (not serve_connection, which would swallow an exception).
    asio::awaitable<void> run(TestTransport transport) {
        Session<TestTransport> session(std::move(transport), *shared_, hub_);
        co_await session.run();
    }

    void add(Method method, std::string path, Handler handler) {
        routes_.push_back({method, std::move(path), Access::open, std::move(handler)});
    }

    // An open route that answers its query string, body size and a call count.
    void add_echo() {
        add(Method::get, "/echo", [this](Request& r) -> asio::awaitable<Response> {
            ++calls_;
            co_return success(bj::object{{"query", r.query()}, {"body", r.body().size()}});
        });
        add(Method::post, "/echo", [this](Request& r) -> asio::awaitable<Response> {
            ++calls_;
            co_return success(bj::object{{"query", r.query()}, {"body", r.body()}});
        });
    }

    // Writes to the session; a write after the session closed is ignored.
    void send(std::string_view bytes) {
        boost::system::error_code ec;
        client_.write_some(asio::buffer(bytes.data(), bytes.size()), ec);
    }

    // Runs the io_context until `done` holds or `limit` passes; false on the limit.
    bool run_until(const std::function<bool()>& done, Clock::duration limit = 5s) {
        const auto deadline = Clock::now() + limit;
        while (!done()) {
            if (Clock::now() > deadline) {
                return false;
            }
            ioc_.run_one_for(5ms);
        }
        return true;
    }

    std::vector<Parsed> responses() const { return parse_responses(client_.str()); }

    // A streamed body that sends one event, then keeps what closed() reports in `reason`.
    static BodyWriter hello_then_closed(std::optional<CloseReason>& reason) {
        return [&reason](StreamWriter& w) -> asio::awaitable<void> {
            co_await w.send("data: hello\n\n");
            reason = co_await w.closed();
        };
    }

    // Sends `request`, waits for that event, then leaves and waits for the session's end.
    void leave_after_hello(std::string_view request) {
        send(request);
        ASSERT_TRUE(run_until([&] { return client_.str().find("hello") != std::string::npos; }));
        client_.close();
        ASSERT_TRUE(run_until([&] { return finished_; }));
        EXPECT_FALSE(failure_);
    }

    // True when the finished session left the client reading EOF after the responses (which this
    // discards: parse them first).
    bool client_sees_eof() {
        if (!finished_) {
            return false;  // read_some would block on an open stream
        }
        client_.clear();
        char c = 0;
        boost::system::error_code ec;
        client_.read_some(asio::buffer(&c, 1), ec);
        return ec == asio::error::eof;
    }

    asio::io_context ioc_;
    boost::beast::test::stream client_{ioc_};
    Limits limits_;
    std::size_t read_size_ = std::numeric_limits<std::size_t>::max();
    bool immediate_writes_ = false;
    std::vector<Route> routes_;
    Metrics metrics_;
    std::optional<Router> router_;
    std::optional<Pipeline> pipeline_;
    std::atomic<bool> draining_{false};
    std::vector<std::string> proxies_;
    std::optional<SessionShared> shared_;
    ConnectionHub hub_;
    int calls_ = 0;
    bool finished_ = false;
    std::exception_ptr failure_;
    Clock::time_point started_at_;
    Clock::time_point finished_at_;
};

TEST_F(SessionTest, ARequestArrivingOneByteAtATimeIsAnswered) {
    add_echo();
    read_size_ = 1;  // and every read of the session returns one byte
    start();
    const std::string get = "GET /echo?a=1 HTTP/1.1\r\nHost: x\r\n\r\n";
    const std::string post =
        "POST /echo?b=2 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 7\r\n\r\n\"hello\"";
    for (const char c : get + post) {
        send(std::string_view(&c, 1));
        ioc_.poll();
    }
    ASSERT_TRUE(run_until([&] { return responses().size() == 2; })) << client_.str();
    const auto r = responses();
    EXPECT_EQ(r[0].status, 200);
    EXPECT_EQ(bj::parse(r[0].body).at("data").at("query").as_string(), "a=1");
    EXPECT_EQ(r[1].status, 200);
    EXPECT_EQ(bj::parse(r[1].body).at("data").at("body").as_string(), "\"hello\"");
    EXPECT_EQ(calls_, 2);
    EXPECT_FALSE(finished_);  // kept alive
}

TEST_F(SessionTest, PipelinedRequestsInOneWriteAreAnsweredInOrder) {
    add_echo();
    start();
    std::string batch;
    for (int i = 0; i < 5; ++i) {
        batch += "GET /echo?n=" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
        batch += "POST /echo?n=p" + std::to_string(i) +
                 " HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
    }
    batch += "GET /echo?n=last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    send(batch);
    ASSERT_TRUE(run_until([&] { return finished_; }));
    ASSERT_FALSE(failure_);
    const auto r = responses();
    ASSERT_EQ(r.size(), 11U) << client_.str();
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(
            bj::parse(r[2 * i].body).at("data").at("query").as_string(), "n=" + std::to_string(i)
        );
        EXPECT_EQ(
            bj::parse(r[2 * i + 1].body).at("data").at("query").as_string(),
            "n=p" + std::to_string(i)
        );
    }
    EXPECT_EQ(bj::parse(r[10].body).at("data").at("query").as_string(), "n=last");
    EXPECT_FALSE(r[10].keep_alive);
    EXPECT_TRUE(client_sees_eof());
}

TEST_F(SessionTest, ARequestPipelinedBehindAStreamIsAnsweredAfterIt) {
    add_echo();
    add(Method::get, "/stream", [](Request&) -> asio::awaitable<Response> {
        Response res;
        res.content_type = "text/event-stream";
        res.body_writer = [](StreamWriter& w) -> asio::awaitable<void> {
            for (int i = 0; i < 3; ++i) {
                co_await w.send("data: " + std::to_string(i) + "\n\n");
            }
        };
        co_return res;
    });
    start();
    send(
        "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /echo?after=stream HTTP/1.1\r\nHost: x\r\n\r\n"
    );
    ASSERT_TRUE(run_until([&] { return responses().size() == 2; })) << client_.str();
    const auto r = responses();
    EXPECT_EQ(r[0].body, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
    EXPECT_EQ(bj::parse(r[1].body).at("data").at("query").as_string(), "after=stream");
}

// try_send() keeps what the connection did not take at once (here all of it: the in-memory
// transport has no non-blocking writes), and what is sent after goes behind it, in order.
TEST_F(SessionTest, BytesATriedWriteKeptGoOutBeforeLaterOnes) {
    std::vector<bool> tried;
    add(Method::get, "/stream", [&tried](Request&) -> asio::awaitable<Response> {
        Response res;
        res.content_type = "text/event-stream";
        res.body_writer = [&tried](StreamWriter& w) -> asio::awaitable<void> {
            tried.push_back(w.try_send("data: 0\n\n"));
            tried.push_back(w.try_send("data: 1\n\n"));
            co_await w.send("data: 2\n\n");
            tried.push_back(w.try_send("data: 3\n\n"));
            tried.push_back(co_await w.flush());
            tried.push_back(co_await w.flush());  // nothing left: still usable
        };
        co_return res;
    });
    start();
    send("GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    ASSERT_TRUE(run_until([&] { return finished_; }));
    const auto r = responses();
    ASSERT_EQ(r.size(), 1U) << client_.str();
    EXPECT_EQ(r[0].body, "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\n");
    EXPECT_EQ(tried, (std::vector<bool>{false, false, false, true, true}));
}

// A tried write goes out as the socket takes it (issue 14: the chunk's framing and the bytes in
// one gathered write, nothing copied): whole while there is room, else in part, with the rest
// kept and sent by flush() ahead of later bytes. The first event (14 bytes framed) fits the
// window; the second is cut where the window ends: in its size line, its data or its last CRLF.
class TriedWriteTest : public SessionTest, public ::testing::WithParamInterface<std::size_t> {};

TEST_P(TriedWriteTest, ATriedWriteTheSocketTakesInPartIsFinishedInOrder) {
    const std::size_t window = GetParam();
    asio::steady_timer gate(ioc_, Clock::time_point::max());
    std::vector<bool> tried;
    add(Method::get, "/stream", [&](Request&) -> asio::awaitable<Response> {
        Response res;
        res.content_type = "text/event-stream";
        res.body_writer = [&](StreamWriter& w) -> asio::awaitable<void> {
            co_await gate.async_wait(asio::as_tuple(asio::use_awaitable));  // the head is read
            tried.push_back(w.try_send("data: 0\n\n"));  // "9\r\n" + 9 bytes + "\r\n"
            tried.push_back(w.try_send("data: 1\n\n"));  // cut where the window ends
            tried.push_back(w.try_send("data: 2\n\n"));  // behind the rest of "data: 1"
            tried.push_back(co_await w.flush());
        };
        co_return res;
    });
    immediate_writes_ = true;
    start(window);
    send("GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    std::string wire;
    const auto drain = [&] {
        wire += client_.str();
        client_.clear();
    };
    ASSERT_TRUE(run_until([&] {
        drain();
        return wire.find("\r\n\r\n") != std::string::npos;
    }));
    ioc_.poll();
    drain();
    gate.cancel();
    ioc_.run_one_for(50ms);  // the writer runs up to its flush, which waits for room
    ASSERT_EQ(tried, (std::vector<bool>{true, false, false}));
    EXPECT_EQ(client_.str().size(), window) << "the socket took what it had room for";
    ASSERT_TRUE(run_until([&] {
        drain();
        return finished_;
    }));
    drain();
    const auto r = parse_responses(wire);
    ASSERT_EQ(r.size(), 1U) << wire;
    EXPECT_EQ(r[0].body, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
    EXPECT_EQ(tried, (std::vector<bool>{true, false, false, true}));
}

INSTANTIATE_TEST_SUITE_P(
    CutPlaces,
    TriedWriteTest,
    ::testing::Values(16, 20, 27)  // 2 bytes of "9\r\n"; "9\r\ndat"; all but the last "\n"
);

TEST_F(SessionTest, ABodyCutMidWayReachesNoHandlerAndEndsTheSession) {
    add_echo();
    start();
    send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n");
    send(std::string(50, 'a'));
    ioc_.poll();
    client_.close();
    ASSERT_TRUE(run_until([&] { return finished_; }));
    EXPECT_FALSE(failure_);
    EXPECT_EQ(calls_, 0);
    EXPECT_TRUE(responses().empty()) << client_.str();
}

TEST_F(SessionTest, ABodyThatStopsArrivingIsCutAtTheBodyTimeout) {
    add_echo();
    limits_.body_timeout = 150ms;
    start();
    send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + std::string(50, 'a'));
    ASSERT_TRUE(run_until([&] { return finished_; }));
    EXPECT_FALSE(failure_);
    EXPECT_GE(finished_at_ - started_at_, 150ms);
    EXPECT_LT(finished_at_ - started_at_, 1500ms);
    EXPECT_EQ(calls_, 0);
    EXPECT_TRUE(client_sees_eof());
}

TEST_F(SessionTest, HeadersTrickledSlowerThanTheHeaderTimeoutAreCut) {
    add_echo();
    limits_.header_timeout = 200ms;
    start();
    send("GET /echo HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    // One byte every 20 ms keeps the connection busy but never finishes the headers.
    const auto ok = run_until(
        [&] {
            if (!finished_) {
                send("a");
                ioc_.run_for(20ms);
            }
            return finished_;
        },
        3s
    );
    ASSERT_TRUE(ok);
    EXPECT_FALSE(failure_);
    EXPECT_GE(finished_at_ - started_at_, 200ms);
    EXPECT_LT(finished_at_ - started_at_, 1500ms);
    EXPECT_EQ(calls_, 0);
    EXPECT_TRUE(responses().empty());
}

TEST_F(SessionTest, AnIdleKeptAliveConnectionIsClosedAtTheIdleTimeout) {
    add_echo();
    limits_.idle_timeout = 150ms;
    start();
    send("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(run_until([&] { return responses().size() == 1; }));
    const auto answered = Clock::now();
    ASSERT_TRUE(run_until([&] { return finished_; }));
    EXPECT_FALSE(failure_);
    EXPECT_GE(finished_at_ - answered, 100ms);
    EXPECT_LT(finished_at_ - answered, 1500ms);
}

// A client that stops reading a stream: the session's writes wait on the full window (no buffering
// of its own), the body timeout cuts the connection, and the body writer learns it.
TEST_F(SessionTest, AClientThatStopsReadingAStreamIsCutWithBoundedMemory) {
    constexpr std::size_t kWindow = 16 * 1024;
    constexpr std::size_t kEvent = 1024;
    limits_.body_timeout = 150ms;
    std::size_t accepted = 0;
    bool refused = false;
    std::optional<CloseReason> reason;
    add(Method::get, "/flood", [&](Request&) -> asio::awaitable<Response> {
        Response res;
        res.content_type = "text/event-stream";
        res.body_writer = [&](StreamWriter& w) -> asio::awaitable<void> {
            const std::string event = "data: " + std::string(kEvent, 'x') + "\n\n";
            for (int i = 0; i < 10'000; ++i) {
                if (!co_await w.send(event)) {
                    refused = true;
                    break;
                }
                ++accepted;
            }
            reason = w.close_reason();
        };
        co_return res;
    });
    start(kWindow);
    send("GET /flood HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(run_until([&] { return finished_; }));
    EXPECT_FALSE(failure_);
    EXPECT_TRUE(refused);
    EXPECT_EQ(reason, CloseReason::client_left);
    EXPECT_LE(client_.buffer().size(), kWindow + kEvent + 64);
    EXPECT_LE(accepted * kEvent, kWindow + kEvent);  // nothing queued beyond what the client took
    EXPECT_GE(finished_at_ - started_at_, 150ms);
    EXPECT_LT(finished_at_ - started_at_, 1500ms);
}

TEST_F(SessionTest, AClientThatLeavesMidStreamIsNoticedByTheWriter) {
    std::optional<CloseReason> reason;
    add(Method::get, "/wait", [&](Request&) -> asio::awaitable<Response> {
        Response res;
        res.content_type = "text/event-stream";
        res.body_writer = hello_then_closed(reason);
        co_return res;
    });
    start();
    leave_after_hello("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(reason, CloseReason::client_left);
}

// A handler that waits long before it answers (a stream's first event) watches the connection
// with Request::watch_close(): its `sink` hears the client leave (client_left), a drain
// (shutdown), and nothing for bytes the client sends meanwhile, which are the next request's.
class HandlerWatchTest : public SessionTest {
protected:
    // GET /wait: watches, then waits until its sink is called or `wait_for` passes; answers
    // what it heard.
    void add_waiting_handler(Clock::duration wait_for = 10s) {
        add_echo();
        add(Method::get, "/wait", [this, wait_for](Request& r) -> asio::awaitable<Response> {
            asio::steady_timer wake(co_await asio::this_coro::executor, wait_for);
            r.watch_close([this, &wake](CloseReason why) {
                heard_.push_back(why);
                wake.cancel();
            });
            waiting_ = true;
            co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
            waiting_ = false;
            co_return success(bj::object{{"heard", heard_.size()}});
        });
    }

    std::vector<CloseReason> heard_;
    bool waiting_ = false;
};

TEST_F(HandlerWatchTest, TheClientLeavingIsHeardWhileTheHandlerWaits) {
    add_waiting_handler();
    start();
    send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(run_until([&] { return waiting_; }));
    run_until([] { return false; }, 20ms);
    EXPECT_TRUE(heard_.empty());
    client_.close();
    ASSERT_TRUE(run_until([&] { return finished_; }));
    EXPECT_FALSE(failure_);
    EXPECT_EQ(heard_, std::vector<CloseReason>{CloseReason::client_left});
    EXPECT_LT(finished_at_ - started_at_, 2s);  // not the handler's 10 s
}

TEST_F(HandlerWatchTest, ADrainIsHeardWhileTheHandlerWaits) {
    add_waiting_handler();
    start();
    send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(run_until([&] { return waiting_; }));
    draining_ = true;
    hub_.close_idle();
    hub_.close_idle();  // (a drain repeats it: the sink is still called once)
    ASSERT_TRUE(run_until([&] { return !waiting_; }));
    EXPECT_EQ(heard_, std::vector<CloseReason>{CloseReason::shutdown});
    ASSERT_TRUE(run_until([&] { return responses().size() == 1; })) << client_.str();
    EXPECT_EQ(bj::parse(responses()[0].body).at("data").at("heard").as_int64(), 1);
}

TEST_F(HandlerWatchTest, ARequestPipelinedWhileTheHandlerWaitsIsAnsweredAfterIt) {
    add_waiting_handler(100ms);
    start();
    send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(run_until([&] { return waiting_; }));
    send("GET /echo?after=wait HTTP/1.1\r\nHost: x\r\n\r\n");  // read by the watch
    ASSERT_TRUE(run_until([&] { return responses().size() == 2; })) << client_.str();
    const auto r = responses();
    EXPECT_EQ(bj::parse(r[0].body).at("data").at("heard").as_int64(), 0);
    EXPECT_EQ(bj::parse(r[1].body).at("data").at("query").as_string(), "after=wait");
    EXPECT_TRUE(heard_.empty());
    EXPECT_EQ(calls_, 1);
}

// The handler's watch read goes on into the stream it answers with: the body writer hears the
// client leave through it.
TEST_F(HandlerWatchTest, TheHandlersWatchGoesOnIntoItsStream) {
    std::optional<CloseReason> reason;
    add(Method::get, "/stream", [&](Request& r) -> asio::awaitable<Response> {
        r.watch_close([this](CloseReason why) { heard_.push_back(why); });
        asio::steady_timer pause(co_await asio::this_coro::executor, 20ms);
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        Response res;
        res.content_type = "text/event-stream";
        res.body_writer = hello_then_closed(reason);
        co_return res;
    });
    start();
    leave_after_hello("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(reason, CloseReason::client_left);
    EXPECT_TRUE(heard_.empty());  // the handler had returned: its sink was no longer called
}

// A read or write that fails at step N, for every N a pipelined request and a stream take: the
// session ends without an exception, and a body writer that is running sees its send refused.
TEST_F(SessionTest, AFailureAtAnyStepEndsTheSessionCleanly) {
    int writers_refused = 0;
    for (std::size_t n = 1; n <= 12; ++n) {
        SCOPED_TRACE("failure at step " + std::to_string(n));
        boost::beast::test::fail_count fc(n);
        asio::io_context ioc;
        boost::beast::test::stream client(ioc);
        Metrics metrics;
        bool refused = false;
        Router router({
            {Method::get,
             "/stream",
             Access::open,
             [&](Request&) -> asio::awaitable<Response> {
                 Response res;
                 res.content_type = "text/event-stream";
                 res.body_writer = [&](StreamWriter& w) -> asio::awaitable<void> {
                     for (int i = 0; i < 8; ++i) {
                         if (!co_await w.send("data: " + std::to_string(i) + "\n\n")) {
                             refused = true;
                             co_return;
                         }
                     }
                 };
                 co_return res;
             }},
        });
        Pipeline pipeline(router, metrics, PipelineOptions{{}, 0, false});
        std::atomic<bool> draining{false};
        std::vector<std::string> proxies;
        SessionShared shared{pipeline, limits_, draining, proxies};
        ConnectionHub hub;
        boost::beast::test::stream server(ioc, fc);
        client.connect(server);
        bool finished = false;
        std::exception_ptr failure;
        asio::co_spawn(
            ioc,
            [](TestTransport t, SessionShared& s, ConnectionHub& h) -> asio::awaitable<void> {
                Session<TestTransport> session(std::move(t), s, h);
                co_await session.run();
            }(TestTransport(std::move(server), client), shared, hub),
            [&](std::exception_ptr e) {
                failure = e;
                finished = true;
            }
        );
        const std::string req = "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n";
        client.write_some(asio::buffer(req + req + req));
        const auto deadline = Clock::now() + 5s;
        while (!finished && Clock::now() < deadline) {
            ioc.run_one_for(5ms);
            if (parse_responses(client.str()).size() == 3) {
                client.close();  // all answered: let the session end
            }
        }
        ASSERT_TRUE(finished);
        EXPECT_FALSE(failure);
        writers_refused += refused ? 1 : 0;
    }
    EXPECT_GT(writers_refused, 0);  // some steps fell inside a stream
}

}  // namespace
}  // namespace parley::http
