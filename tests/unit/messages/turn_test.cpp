// Turn's reader side (messages/service.hpp, turn_state.hpp): the inline reader a relay sets so
// that the deltas pushed while it waits are written by a plain call, without waking its
// coroutine (issue 14), and what still wakes it: any other event, and a push from another thread.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include "messages/service.hpp"
#include "messages/turn_state.hpp"

namespace parley::messages {
namespace {

namespace asio = boost::asio;

// What a relay's coroutine does, as a test reader: waits, counts the wake-ups, takes what is
// queued (the texts into `taken`) until the end.
struct WokenReader {
    int wakes = 0;
    std::vector<std::string> taken;
    bool done = false;

    void spawn(asio::io_context& ctx, Turn& turn) {
        asio::co_spawn(
            ctx,
            [this, &turn]() -> asio::awaitable<void> {
                for (;;) {
                    co_await turn.wait_until(std::chrono::steady_clock::time_point::max());
                    ++wakes;
                    for (const TurnEvent* e = turn.peek(); e != nullptr; e = turn.peek()) {
                        if (e->kind == TurnEvent::Kind::end) {
                            done = true;
                            co_return;
                        }
                        taken.push_back(e->text);
                        turn.pop();
                    }
                }
            },
            asio::detached
        );
        ctx.poll();  // the reader waits
    }
};

TEST(TurnTest, DeltasPushedWhileTheReaderWaitsGoToItsPlainCallAndOtherEventsWakeIt) {
    asio::io_context ctx;
    auto st = std::make_shared<Turn::State>(ctx.get_executor());
    Turn turn(st);
    std::vector<std::string> inline_taken;
    turn.set_inline_reader([&turn, &inline_taken] {
        for (const TurnEvent* e = turn.peek(); e != nullptr && e->delta(); e = turn.peek()) {
            inline_taken.push_back(e->text);
            turn.pop();
        }
        return turn.peek() == nullptr;
    });
    WokenReader reader;
    reader.spawn(ctx, turn);
    const auto push_on_loop = [&ctx, &st](TurnEvent e) {
        asio::post(ctx, [&st, e = std::move(e)]() mutable { st->push(std::move(e)); });
        ctx.poll();
    };

    push_on_loop({TurnEvent::Kind::text, "a"});
    push_on_loop({TurnEvent::Kind::thinking, "b"});
    EXPECT_EQ(inline_taken, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(reader.wakes, 0);

    // Not a delta: left queued for the coroutine, which is woken for it.
    push_on_loop({TurnEvent::Kind::tool_call, "{}", "call_1", "lookup"});
    EXPECT_EQ(reader.wakes, 1);
    EXPECT_EQ(reader.taken, (std::vector<std::string>{"{}"}));

    // A push from another thread than the reader's loop: the reader is woken as before.
    st->push({TurnEvent::Kind::text, "c"});  // (the loop is not running here)
    EXPECT_EQ(inline_taken.size(), 2U);
    ctx.poll();
    EXPECT_EQ(reader.wakes, 2);
    EXPECT_EQ(reader.taken, (std::vector<std::string>{"{}", "c"}));

    // Back to the plain call, then the end wakes the coroutine.
    push_on_loop({TurnEvent::Kind::text, "d"});
    EXPECT_EQ(inline_taken, (std::vector<std::string>{"a", "b", "d"}));
    st->running = false;
    push_on_loop({TurnEvent::Kind::end, {}});
    EXPECT_TRUE(reader.done);
    EXPECT_EQ(reader.wakes, 3);
    turn.set_inline_reader({});
}

// A reader that leaves something (a write that has to wait) has its coroutine woken, even with
// nothing queued; without an inline reader every event wakes it.
TEST(TurnTest, AnInlineReaderThatLeavesWorkWakesTheCoroutine) {
    asio::io_context ctx;
    auto st = std::make_shared<Turn::State>(ctx.get_executor());
    Turn turn(st);
    int calls = 0;
    turn.set_inline_reader([&] {
        ++calls;
        while (turn.peek() != nullptr && turn.peek()->delta()) {
            turn.pop();
        }
        return false;  // it left work behind (a write that has to wait)
    });
    WokenReader reader;
    reader.spawn(ctx, turn);
    asio::post(ctx, [&st] { st->push({TurnEvent::Kind::text, "x"}); });
    ctx.poll();
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(reader.wakes, 1);
    turn.set_inline_reader({});
    asio::post(ctx, [&st] { st->push({TurnEvent::Kind::text, "y"}); });
    ctx.poll();
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(reader.wakes, 2);
    EXPECT_EQ(reader.taken, (std::vector<std::string>{"y"}));
    st->running = false;
    asio::post(ctx, [&st] { st->push({TurnEvent::Kind::end, {}}); });
    ctx.poll();
    EXPECT_EQ(reader.wakes, 3);
}

}  // namespace
}  // namespace parley::messages
