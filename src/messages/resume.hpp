// Resumable streams (issue 17): every SSE event of a conversation's answer stream is numbered
// (`id: <seq>`, from 1, per answer) and kept, encoded, in a bounded per-answer buffer, so that a
// client that lost its connection can ask GET …/messages/{message_id}/stream with Last-Event-ID
// and get the events it missed, then the live rest. With REDIS_URL the generating instance also
// appends each event to a Redis stream keyed by the message id (XADD, capped, expiring with the
// window), from which any other instance serves the same request. No Beast or Asio types here
// beyond awaitable.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/error.hpp"
#include "events/answer_streams.hpp"

namespace parley::messages {

// One numbered SSE event as the client got it (the `id:` line included).
using NumberedEvent = events::StoredEvent;

// Numbers the SSE events of one answer: each event of an encoded piece (events end with a blank
// line) gets an `id: <seq>` line in front; comments (`: ping`) are left as they are and not
// numbered. Returns the numbered events in order.
class EventNumberer {
public:
    // The longest `id: <seq>` line the numberer puts in front of an event ("id: ", 20 digits, a
    // newline): the room an encoder leaves in a delta's string for number_in_place.
    static constexpr std::size_t kMaxIdLine = 25;

    std::vector<NumberedEvent> number(std::string_view piece);

    // When `piece` is one event (not a comment), numbers it where it is (the `id:` line put in
    // front; a streamed delta's piece, issue 14: no copy of it and no vector) and returns its id;
    // else leaves it as it is and returns 0 (number() then does the rest).
    std::uint64_t number_in_place(std::string& piece);

    std::uint64_t last_id() const noexcept { return last_; }

private:
    std::uint64_t last_ = 0;
};

// The encoded events of one answer, the oldest dropped once they hold more than `max_bytes`
// (the newest event is always kept; `max_bytes` counts the events' whole bytes).
// Each event is kept as what differs from the event before it: its first line (the `id:` line)
// and the middle of the rest, between the prefix and the suffix that rest shares with the
// previous event's. An answer's deltas differ in their text only, so a ~200-byte OpenAI chunk is
// kept in a dozen bytes (issue 14: the buffer was ~17 KiB of an open stream's ~75 KiB). The
// events are records in one byte string, their numbers as variable-length integers, and an
// `id: <id>` first line is not kept but written again when read: ~10 bytes for a delta's event
// (issue 14: a deque entry per event was 56 bytes). Reading rebuilds the events from the oldest,
// which is always kept whole.
class EventBuffer {
public:
    explicit EventBuffer(std::size_t max_bytes) : max_bytes_(max_bytes) {}

    void append(std::uint64_t id, std::string_view bytes);

    void append(const NumberedEvent& e) { append(e.id, e.bytes); }

    // The events after `after`, oldest first; nullopt when some of them were dropped already.
    std::optional<std::vector<NumberedEvent>> after(std::uint64_t after) const;

    std::uint64_t last_id() const noexcept { return count_ == 0 ? dropped_to_ : last_id_; }

    std::size_t bytes() const noexcept { return bytes_; }

    std::size_t size() const noexcept { return count_; }

    // The heap bytes held (for tests and figures).
    std::size_t capacity() const noexcept { return log_.capacity() + last_rest_.capacity(); }

private:
    struct Record;

    // Decodes the record at `at` of log_, moving `at` past it.
    Record read(std::size_t& at) const;
    static std::string rest_of(const Record& r, std::string_view previous);
    void drop_oldest();

    std::size_t max_bytes_;
    std::size_t bytes_ = 0;
    std::size_t count_ = 0;
    std::uint64_t first_id_ = 0;    // the oldest kept event's
    std::uint64_t last_id_ = 0;     // the newest's
    std::uint64_t dropped_to_ = 0;  // the id of the newest event dropped
    std::string log_;               // the records, the oldest at begin_
    std::size_t begin_ = 0;
    std::string last_rest_;        // the newest event past its first line, for the next one's diff
    std::size_t last_prefix_ = 0;  // what it shared with the event before it, in front
    std::size_t last_suffix_ = 0;  // and at the end: the next diff tries these first
};

// What GET …/stream needs to know about an answer's stream.
struct StreamInfo {
    std::string message_id;
    std::string conversation_id;
    std::string format;  // "anthropic" or "openai": what the answer was asked in
    bool resumable = false;
};

// What a reader gets from a stream at one time: the events after its id; whether the last event
// is among them (or was read before); whether events after its id were dropped already.
using StreamRead = events::StoredRead;

class StreamHub;

// The stream of one answer on the generating instance. Thread-safe: written by the relay on its
// executor, read by GET …/stream on any.
class LiveStream {
public:
    LiveStream(StreamInfo info, std::size_t max_bytes, StreamHub& hub)
        : info_(std::move(info)),
          buffer_(max_bytes),
          hub_(hub) {}

    const StreamInfo& info() const noexcept { return info_; }

    // Numbers the events of `piece`, keeps them (and sends them to Redis when configured) and
    // returns the bytes for the original client.
    std::string append(std::string piece);

    // The answer ended: its last event was appended.
    void finish();

    StreamRead read_after(std::uint64_t after) const;

    // Readers of the stream (the request that started it counts as one until it leaves).
    void attach();
    void detach();
    // Whether someone reads, and when the last reader left.
    bool read() const;
    std::chrono::steady_clock::time_point last_left() const;

    bool finished() const;
    std::chrono::steady_clock::time_point finished_at() const;

private:
    StreamInfo info_;
    mutable std::mutex mutex_;
    EventNumberer numberer_;
    EventBuffer buffer_;
    bool finished_ = false;
    int readers_ = 0;
    std::chrono::steady_clock::time_point last_left_ = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point finished_at_{};
    StreamHub& hub_;
};

struct StreamHubOptions {
    std::chrono::milliseconds window{30'000};          // STREAM_RESUME_WINDOW_S
    std::size_t max_bytes = std::size_t{1024} * 1024;  // per answer, in memory
};

// The streams of this instance's answers, each kept until `window` after its end; and, with a
// Redis client, the shared copy of them for the other instances.
class StreamHub {
public:
    explicit StreamHub(StreamHubOptions options = {}, events::AnswerStreams* shared = nullptr)
        : options_(std::move(options)),
          shared_(shared) {}

    const StreamHubOptions& options() const noexcept { return options_; }

    bool shared() const noexcept { return shared_ != nullptr; }

    // A new stream, found by `find` from now on until `window` after it finished.
    std::shared_ptr<LiveStream> open(StreamInfo info);

    // This instance's stream of `message_id`, if it has one.
    std::shared_ptr<LiveStream> find(std::string_view message_id);

    // Another instance's stream, through Redis: its info (nullopt: no such stream there), or an
    // error (overloaded) when Redis does not answer.
    boost::asio::awaitable<Result<std::optional<StreamInfo>>> remote_info(std::string message_id);

    // The events of another instance's stream after `after`. Errors: overloaded (Redis).
    boost::asio::awaitable<Result<StreamRead>> remote_read(
        std::string message_id, std::uint64_t after
    );

    // A reader of another instance's stream is attached here: refreshed while it reads, so that
    // the generating instance keeps a resumable answer going.
    void touch_remote_reader(const std::string& message_id);

    // Whether a reader on another instance is attached to `message_id` (false without Redis or
    // when Redis does not answer).
    boost::asio::awaitable<bool> remote_reader(std::string message_id);

    // Streams kept now (for tests and /metrics); sweeps the expired ones first.
    std::size_t size();

private:
    friend class LiveStream;
    void publish(const StreamInfo& info, std::uint64_t id, std::string_view bytes);
    void publish_end(const StreamInfo& info, std::uint64_t last_id);
    void sweep();  // under mutex_
    // A finished stream past its window that nobody reads.
    bool expired(const LiveStream& s, std::chrono::steady_clock::time_point now) const;

    StreamHubOptions options_;
    events::AnswerStreams* shared_;
    std::mutex mutex_;
    std::map<std::string, std::shared_ptr<LiveStream>, std::less<>> streams_;
    std::chrono::steady_clock::time_point next_sweep_{};
};

// Parses a Last-Event-ID (a decimal event id). Errors: invalid_request.
Result<std::uint64_t> parse_last_event_id(std::string_view text);

}  // namespace parley::messages
