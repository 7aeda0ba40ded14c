// The shared copy of answer streams (issue 17): with REDIS_URL, the instance that generates an
// answer appends each of its numbered SSE events to a Redis stream keyed by the message id, so that
// any other instance can serve a resume (GET …/messages/{id}/stream with Last-Event-ID). This is
// the Redis side only; numbering, the in-memory buffer and the route are messages/resume.hpp's.
// Writes do not wait (pipelined on the shared client); reads are single commands.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/error.hpp"

namespace parley::redis {
class Client;
}

namespace parley::events {

struct AnswerStreamsOptions {
    std::chrono::milliseconds window{30'000};   // how long a finished stream stays readable
    std::size_t max_events = 20'000;            // XADD MAXLEN ~
    std::string key_prefix = "parley:stream:";  // + message id
};

// One event of a stream as stored: its id and the bytes the client got.
struct StoredEvent {
    std::uint64_t id = 0;
    std::string bytes;
};

// What a read after an id found: the events in order; whether the end marker follows them; and
// whether events were trimmed (MAXLEN) before this reader got to them.
struct StoredRead {
    std::vector<StoredEvent> events;
    bool finished = false;
    bool gap = false;
};

// Keys: `<prefix><id>` (the stream; entry ids "<seq>-0", the end marker "<last>-1"),
// `<prefix><id>:meta` (the caller's description of the stream), `<prefix><id>:reader` (a reader on
// another instance is attached). `client` must outlive this.
class AnswerStreams {
public:
    AnswerStreams(redis::Client& client, AnswerStreamsOptions options);

    // A new stream's description (opaque to this class), kept while it is generated.
    void open(std::string_view message_id, std::string meta);

    // Appends one event; events must come in id order, starting at 1.
    void append(std::string_view message_id, std::uint64_t id, std::string_view bytes);

    // The end marker after `last_id`; the stream then expires `window` later.
    void finish(std::string_view message_id, std::uint64_t last_id);

    // The description given to open(), nullopt when no instance has such a stream. Errors:
    // overloaded (Redis does not answer, or answered badly).
    boost::asio::awaitable<Result<std::optional<std::string>>> meta(std::string message_id);

    // The events after `after` (at most 512 a call). Errors: overloaded.
    boost::asio::awaitable<Result<StoredRead>> read(std::string message_id, std::uint64_t after);

    // A reader on this instance is attached to another instance's stream (lapses after 2 s).
    void touch_reader(std::string_view message_id);

    // Whether a reader elsewhere is attached (false when Redis does not answer).
    boost::asio::awaitable<bool> has_reader(std::string message_id);

private:
    std::string key(std::string_view message_id, std::string_view suffix = {}) const;

    redis::Client& client_;
    AnswerStreamsOptions options_;
};

}  // namespace parley::events
