// The shared copy of answer streams (messages/resume.hpp) as two instances see it: instance A's hub
// appends events to Redis, instance B's reads them back (info, events after an id, the end, a
// reader's presence), on the fixture's server, each test on keys of its own.
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "common/ids.hpp"
#include "messages/resume.hpp"
#include "redis/client.hpp"
#include "support/redis_server.hpp"
#include "support/run_awaitable.hpp"

namespace parley::messages {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using parley::testing::run_awaitable;

class SharedStreamTest : public ::testing::Test {
protected:
    void SetUp() override {
        const auto url = parley::testing::test_redis_url();
        if (!url) {
            GTEST_SKIP() << "PARLEY_TEST_REDIS_URL is not set";
        }
        redis::ClientOptions options;
        options.endpoint = redis::parse_url(*url).value();
        a_client_ = std::make_unique<redis::Client>(options);
        b_client_ = std::make_unique<redis::Client>(options);
        ASSERT_TRUE(a_client_->wait_connected(5s));
        ASSERT_TRUE(b_client_->wait_connected(5s));
        events::AnswerStreamsOptions shared;
        shared.key_prefix = "parley:test:stream:" + new_uuid_v7() + ":";
        shared.window = 2s;
        shared.max_events = max_redis_events_;
        a_shared_ = std::make_unique<events::AnswerStreams>(*a_client_, shared);
        b_shared_ = std::make_unique<events::AnswerStreams>(*b_client_, shared);
        StreamHubOptions o;
        o.window = 2s;
        a_ = std::make_unique<StreamHub>(o, a_shared_.get());
        b_ = std::make_unique<StreamHub>(o, b_shared_.get());
    }

    // What B reads after `after`, once A's sends (which do not wait) have landed.
    StreamRead read_on_b(std::uint64_t after, std::size_t expected_events, bool expect_end) {
        StreamRead r;
        for (int i = 0; i < 100; ++i) {
            auto got = run_awaitable(ctx_, b_->remote_read("m1", after));
            EXPECT_TRUE(got.has_value());
            if (got) {
                r = std::move(*got);
            }
            if (r.gap || (r.events.size() >= expected_events && r.finished == expect_end)) {
                break;
            }
            std::this_thread::sleep_for(20ms);
        }
        return r;
    }

    std::size_t max_redis_events_ = 20'000;
    asio::io_context ctx_;
    std::unique_ptr<redis::Client> a_client_;
    std::unique_ptr<redis::Client> b_client_;
    std::unique_ptr<events::AnswerStreams> a_shared_;
    std::unique_ptr<events::AnswerStreams> b_shared_;
    std::unique_ptr<StreamHub> a_;
    std::unique_ptr<StreamHub> b_;
};

TEST_F(SharedStreamTest, AnotherInstanceReadsTheEventsFromAnIdAndTheEnd) {
    auto s = a_->open({"m1", "c1", "openai", true});
    s->append("data: one\n\ndata: two\n\n");
    s->append("data: three\n\n");

    // A's writes reach Redis from its client's thread: wait (up to 2 s) until B sees the answer.
    auto info = run_awaitable(ctx_, b_->remote_info("m1"));
    for (int i = 0; i < 100 && info.has_value() && !info->has_value(); ++i) {
        std::this_thread::sleep_for(20ms);
        info = run_awaitable(ctx_, b_->remote_info("m1"));
    }
    ASSERT_TRUE(info.has_value());
    ASSERT_TRUE(info->has_value());
    EXPECT_EQ((*info)->conversation_id, "c1");
    EXPECT_EQ((*info)->format, "openai");
    EXPECT_TRUE((*info)->resumable);
    EXPECT_FALSE(run_awaitable(ctx_, b_->remote_info("other"))->has_value());

    auto r = read_on_b(1, 2, false);
    ASSERT_EQ(r.events.size(), 2U);
    EXPECT_EQ(r.events[0].id, 2U);
    EXPECT_EQ(r.events[0].bytes, "id: 2\ndata: two\n\n");
    EXPECT_EQ(r.events[1].bytes, "id: 3\ndata: three\n\n");
    EXPECT_FALSE(r.finished);
    EXPECT_FALSE(r.gap);

    s->append("data: [DONE]\n\n");
    s->finish();
    r = read_on_b(3, 1, true);
    ASSERT_EQ(r.events.size(), 1U);
    EXPECT_EQ(r.events[0].bytes, "id: 4\ndata: [DONE]\n\n");
    EXPECT_TRUE(r.finished);
    // The whole stream, as A's own buffer has it.
    r = read_on_b(0, 4, true);
    ASSERT_EQ(r.events.size(), 4U);
    const auto local = s->read_after(0);
    for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(r.events[i].bytes, local.events[i].bytes);
    }
}

TEST_F(SharedStreamTest, AReaderOnAnotherInstanceIsSeenByTheGeneratingOne) {
    a_->open({"m1", "c1", "anthropic", true});
    EXPECT_FALSE(run_awaitable(ctx_, a_->remote_reader("m1")));
    b_->touch_remote_reader("m1");
    bool seen = false;
    for (int i = 0; i < 50 && !seen; ++i) {
        seen = run_awaitable(ctx_, a_->remote_reader("m1"));
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_TRUE(seen);
}

class TrimmedStreamTest : public SharedStreamTest {
protected:
    TrimmedStreamTest() { max_redis_events_ = 1; }
};

TEST_F(TrimmedStreamTest, EventsTrimmedAwayAreAGap) {
    auto s = a_->open({"m1", "c1", "anthropic", false});
    // MAXLEN ~ trims whole nodes only: enough entries that the first ones surely go.
    for (int i = 0; i < 500; ++i) {
        s->append("data: x\n\n");
    }
    const auto r = read_on_b(0, 500, false);
    EXPECT_TRUE(r.gap);
}

}  // namespace
}  // namespace parley::messages
