// Resumable streams (messages/resume.hpp): numbering SSE events, the bounded per-answer buffer,
// replay from an id, the hub's lifetime of finished streams, and Last-Event-ID parsing.
#include "messages/resume.hpp"

#include <deque>
#include <thread>

#include <gtest/gtest.h>

namespace parley::messages {
namespace {

std::string event(const std::string& name, const std::string& data) {
    return "event: " + name + "\ndata: " + data + "\n\n";
}

TEST(EventNumberer, NumbersEachEventOfAPieceAndSkipsComments) {
    EventNumberer n;
    const auto first = n.number(event("a", "1") + event("b", "2"));
    ASSERT_EQ(first.size(), 2U);
    EXPECT_EQ(first[0].id, 1U);
    EXPECT_EQ(first[0].bytes, "id: 1\nevent: a\ndata: 1\n\n");
    EXPECT_EQ(first[1].bytes, "id: 2\nevent: b\ndata: 2\n\n");
    // An OpenAI keep-alive comment is not an event of the answer; [DONE] is.
    const auto second = n.number(": ping\n\ndata: [DONE]\n\n");
    ASSERT_EQ(second.size(), 1U);
    EXPECT_EQ(second[0].bytes, "id: 3\ndata: [DONE]\n\n");
    EXPECT_EQ(n.last_id(), 3U);
    EXPECT_TRUE(n.number("").empty());
}

std::vector<std::uint64_t> ids(const std::vector<NumberedEvent>& events) {
    std::vector<std::uint64_t> out;
    out.reserve(events.size());
    for (const auto& e : events) {
        out.push_back(e.id);
    }
    return out;
}

// A streamed delta's piece is one event: numbered where it is, in the same string. Anything
// else (several events, a comment, an unended event, nothing) is left to number(), and the ids go
// on from one to the other.
TEST(EventNumberer, NumbersAOneEventPieceInPlace) {
    EventNumberer n;
    std::string one = event("a", "1");
    one.reserve(64);
    const char* storage = one.data();
    EXPECT_EQ(n.number_in_place(one), 1U);
    EXPECT_EQ(one, "id: 1\nevent: a\ndata: 1\n\n");
    EXPECT_EQ(one.data(), storage) << "numbered in its own bytes, with the room it had";
    for (std::string other :
         {event("a", "1") + event("b", "2"),
          std::string(": ping\n\n"),
          std::string("data: x\n"),
          std::string("x"),
          std::string()}) {
        const std::string before = other;
        EXPECT_EQ(n.number_in_place(other), 0U) << before;
        EXPECT_EQ(other, before);
    }
    EXPECT_EQ(n.number(event("b", "2"))[0].id, 2U);
    std::string next = "data: 3\n\n";
    EXPECT_EQ(n.number_in_place(next), 3U);
    EXPECT_EQ(next, "id: 3\ndata: 3\n\n");
    EXPECT_EQ(n.last_id(), 3U);
}

TEST(EventBuffer, ReplaysTheEventsAfterAnId) {
    EventBuffer b(1 << 20);
    for (std::uint64_t i = 1; i <= 5; ++i) {
        b.append({i, "id: " + std::to_string(i) + "\n\n"});
    }
    EXPECT_EQ(ids(*b.after(0)), (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
    EXPECT_EQ(ids(*b.after(3)), (std::vector<std::uint64_t>{4, 5}));
    EXPECT_TRUE(b.after(5)->empty());
    EXPECT_TRUE(b.after(99)->empty());
    EXPECT_EQ((*b.after(1))[0].bytes, "id: 2\n\n");
    EXPECT_EQ(b.last_id(), 5U);
}

TEST(EventBuffer, DropsTheOldestPastItsBytesAndSaysSo) {
    EventBuffer b(30);  // three 10-byte events
    for (std::uint64_t i = 1; i <= 5; ++i) {
        b.append({i, std::string(10, static_cast<char>('a' + i))});
        EXPECT_LE(b.bytes(), 30U);
    }
    EXPECT_EQ(b.size(), 3U);
    EXPECT_EQ(b.bytes(), 30U);
    EXPECT_FALSE(b.after(0).has_value());  // 1 and 2 are gone
    EXPECT_FALSE(b.after(1).has_value());
    EXPECT_EQ(ids(*b.after(2)), (std::vector<std::uint64_t>{3, 4, 5}));
    // One event larger than the cap is still kept: the newest always is.
    b.append({6, std::string(100, 'x')});
    EXPECT_EQ(b.size(), 1U);
    EXPECT_EQ(ids(*b.after(5)), (std::vector<std::uint64_t>{6}));
    EXPECT_EQ(b.last_id(), 6U);
}

// Events are kept as what differs from the event before them: every read must give back the
// bytes appended, byte for byte, whatever they share (prefixes, suffixes, both, overlapping).
TEST(EventBuffer, RebuildsEventsKeptAsDifferencesByteForByte) {
    EventBuffer b(1 << 20);
    const std::vector<std::string> bytes{
        "id: 1\ndata: {\"choices\":[{\"delta\":{\"content\":\"Hello\"}}]}\n\n",
        "id: 2\ndata: {\"choices\":[{\"delta\":{\"content\":\" world\"}}]}\n\n",
        "id: 3\ndata: {\"choices\":[{\"delta\":{\"content\":\" world\"}}]}\n\n",  // the same
        "id: 4\ndata: {\"choices\":[{\"delta\":{\"content\":\"\"}}]}\n\n",
        "id: 5\naaaa",
        "id: 6\naaa",  // shorter: prefix and suffix would overlap
        "id: 7\naaaaaaa",
        "id: 8",  // no newline: all of it is the first line
        "id: 9\n",
        "id: 10\ndata: [DONE]\n\n",
    };
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        b.append({i + 1, bytes[i]});
    }
    for (std::uint64_t after = 0; after <= bytes.size(); ++after) {
        const auto got = b.after(after);
        ASSERT_TRUE(got.has_value());
        ASSERT_EQ(got->size(), bytes.size() - after);
        for (std::size_t i = 0; i < got->size(); ++i) {
            EXPECT_EQ((*got)[i].id, after + i + 1);
            EXPECT_EQ((*got)[i].bytes, bytes[after + i]) << "after " << after;
        }
    }
}

// The same against a plain list of whole events, over random events and caps: the events kept,
// their bytes and the byte count are what a buffer of whole strings gives.
TEST(EventBuffer, MatchesABufferOfWholeEvents) {
    std::uint32_t seed = 12345;
    const auto next = [&seed](std::uint32_t n) {
        seed = seed * 1664525U + 1013904223U;
        return (seed >> 8) % n;
    };
    for (int round = 0; round < 200; ++round) {
        const std::size_t cap = 20 + next(400);
        EventBuffer b(cap);
        std::deque<NumberedEvent> model;
        std::size_t model_bytes = 0;
        std::uint64_t dropped = 0;
        const std::string words[] = {"data: {\"t\":\"", "\"}\n\n", "ab", "b", "", "\n", "xyz"};
        for (std::uint64_t id = 1; id <= 40; ++id) {
            std::string e = "id: " + std::to_string(id) + "\n";
            for (std::uint32_t k = next(6); k > 0; --k) {
                e += words[next(7)];
            }
            b.append({id, e});
            model.push_back({id, e});
            model_bytes += e.size();
            while (model_bytes > cap && model.size() > 1) {
                model_bytes -= model.front().bytes.size();
                dropped = model.front().id;
                model.pop_front();
            }
            ASSERT_EQ(b.bytes(), model_bytes);
            ASSERT_EQ(b.size(), model.size());
            ASSERT_EQ(b.last_id(), id);
            const std::uint64_t from = next(static_cast<std::uint32_t>(id + 1));
            const auto got = b.after(from);
            ASSERT_EQ(got.has_value(), from >= dropped);
            if (!got) {
                continue;
            }
            std::vector<NumberedEvent> want;
            for (const auto& m : model) {
                if (m.id > from) {
                    want.push_back(m);
                }
            }
            ASSERT_EQ(got->size(), want.size());
            for (std::size_t i = 0; i < want.size(); ++i) {
                ASSERT_EQ((*got)[i].id, want[i].id);
                ASSERT_EQ((*got)[i].bytes, want[i].bytes) << "round " << round << " id " << id;
            }
        }
    }
}

// A long answer through a small cap: ids with gaps, first lines of both kinds, thousands of
// drops (the log's dead front is cut off as it goes), against whole events; and a 64-delta
// OpenAI answer held in about a dozen bytes an event.
TEST(EventBuffer, StaysCompactThroughThousandsOfDrops) {
    EventBuffer b(2000);
    std::deque<NumberedEvent> model;
    std::size_t model_bytes = 0;
    const auto same_as_model = [&b, &model] {
        const auto got = b.after(model.front().id - 1);
        ASSERT_TRUE(got.has_value());
        ASSERT_EQ(got->size(), model.size());
        for (std::size_t i = 0; i < model.size(); ++i) {
            ASSERT_EQ((*got)[i].id, model[i].id);
            ASSERT_EQ((*got)[i].bytes, model[i].bytes);
        }
        EXPECT_EQ(b.last_id(), model.back().id);
    };
    std::uint64_t id = 0;
    for (int i = 0; i < 5000; ++i) {
        id += 1 + static_cast<std::uint64_t>(i % 7 == 0);
        std::string e = i % 5 == 0 ? "event: x\n" : "id: " + std::to_string(id) + "\n";
        e += "data: {\"choices\":[{\"delta\":{\"content\":\"" + std::string(i % 13, 'w') +
             "\"}}]}\n\n";
        b.append({id, e});
        model.push_back({id, e});
        model_bytes += e.size();
        while (model_bytes > 2000 && model.size() > 1) {
            model_bytes -= model.front().bytes.size();
            model.pop_front();
        }
        ASSERT_EQ(b.bytes(), model_bytes);
        ASSERT_EQ(b.size(), model.size());
        if (i % 97 == 0) {
            same_as_model();
        }
    }
    same_as_model();
    EXPECT_FALSE(b.after(model.front().id - 2).has_value());
    EXPECT_LT(b.capacity(), 2 * 4096U);  // the dead front does not pile up

    EventBuffer answer(1 << 20);
    EventNumberer numberer;
    const std::string head =
        "data: {\"id\":\"chatcmpl-0123456789\",\"object\":\"chat.completion.chunk\",\"created\":"
        "1796409070,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{";
    for (const auto& e : numberer.number(head + "\"role\":\"assistant\"}}]}\n\n")) {
        answer.append(e);
    }
    for (int i = 0; i < 63; ++i) {
        const std::string text = "tok" + std::to_string(i);
        for (const auto& e : numberer.number(
                 head + "\"content\":\"" + text + "\"},\"finish_reason\":null}]}\n\n"
             )) {
            answer.append(e);
        }
    }
    EXPECT_EQ(answer.size(), 64U);
    EXPECT_LT(answer.capacity(), 64U * 12 + 2 * head.size() + 256);
    EXPECT_EQ(
        (*answer.after(63))[0].bytes,
        "id: 64\n" + head + "\"content\":\"tok62\"},\"finish_reason\":null}]}\n\n"
    );
}

TEST(LiveStream, AppendsNumberedEventsAndReadsFromAnId) {
    StreamHub hub;
    auto s = hub.open({"m1", "c1", "anthropic", true});
    EXPECT_EQ(
        s->append(event("a", "1") + event("b", "2")),
        "id: 1\nevent: a\ndata: 1\n\nid: 2\nevent: b\ndata: 2\n\n"
    );
    auto r = s->read_after(1);
    EXPECT_FALSE(r.finished);
    EXPECT_FALSE(r.gap);
    EXPECT_EQ(ids(r.events), (std::vector<std::uint64_t>{2}));
    EXPECT_EQ(s->append(event("c", "3")), "id: 3\nevent: c\ndata: 3\n\n");  // numbered in place
    s->finish();
    r = s->read_after(0);
    EXPECT_TRUE(r.finished);
    EXPECT_EQ(ids(r.events), (std::vector<std::uint64_t>{1, 2, 3}));
    EXPECT_EQ(r.events[2].bytes, "id: 3\nevent: c\ndata: 3\n\n");
    EXPECT_EQ(hub.find("m1"), s);
    EXPECT_EQ(hub.find("m2"), nullptr);
}

TEST(LiveStream, ReportsAGapWhenTheBufferDroppedTheReadersEvents) {
    StreamHubOptions o;
    o.max_bytes = 64;
    StreamHub hub(o);
    auto s = hub.open({"m1", "c1", "openai", false});
    for (int i = 0; i < 10; ++i) {
        s->append("data: " + std::string(20, 'x') + "\n\n");
    }
    EXPECT_TRUE(s->read_after(0).gap);
    const auto tail = s->read_after(9);
    EXPECT_FALSE(tail.gap);
    EXPECT_EQ(ids(tail.events), (std::vector<std::uint64_t>{10}));
}

TEST(LiveStream, CountsReaders) {
    StreamHub hub;
    auto s = hub.open({"m1", "c1", "anthropic", true});
    EXPECT_FALSE(s->read());
    s->attach();
    s->attach();
    s->detach();
    EXPECT_TRUE(s->read());
    const auto before = std::chrono::steady_clock::now();
    s->detach();
    EXPECT_FALSE(s->read());
    EXPECT_GE(s->last_left(), before);
}

TEST(StreamHub, KeepsAFinishedStreamForTheWindowOnly) {
    StreamHubOptions o;
    o.window = std::chrono::milliseconds(50);
    StreamHub hub(o);
    auto running = hub.open({"live", "c1", "anthropic", false});
    auto done = hub.open({"done", "c1", "anthropic", false});
    done->finish();
    EXPECT_EQ(hub.size(), 2U);
    std::this_thread::sleep_for(std::chrono::milliseconds(80));
    EXPECT_EQ(hub.find("done"), nullptr);  // past the window after its end
    EXPECT_EQ(hub.find("live"), running);  // still generating: kept whatever its age
    EXPECT_EQ(hub.size(), 1U);
}

TEST(ParseLastEventId, AcceptsDecimalIdsOnly) {
    EXPECT_EQ(*parse_last_event_id("0"), 0U);
    EXPECT_EQ(*parse_last_event_id("42"), 42U);
    for (const char* bad : {"", "-1", "abc", "1.5", " 3", "3 ", "99999999999999999999999"}) {
        const auto r = parse_last_event_id(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().type, ErrorType::invalid_request);
    }
}

}  // namespace
}  // namespace parley::messages
