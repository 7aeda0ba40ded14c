// Incremental Server-Sent Events parser for the providers' streams (Anthropic, OpenAI-compatible,
// Gemini `alt=sse`), following the WHATWG HTML "event stream interpretation" algorithm: bytes go
// in split anywhere (between CR and LF, inside a UTF-8 character), complete events come out in
// order. Line ends are CRLF, LF or a lone CR; a leading UTF-8 BOM is skipped; malformed UTF-8 is
// replaced by U+FFFD as the spec's decoder does; comments are counted, not dispatched. Memory is
// bounded: a line or an event's data past the configured maximum fails the parser, which then
// ignores its input. Pure code (no I/O, no JSON); one parser per stream, not thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace parley::net {

// One dispatched event, as the spec's MessageEvent sees it.
struct SseEvent {
    std::string event;   // the `event:` field, or "message" when the stream named none
    std::string data;    // the `data:` lines joined with "\n", as sent (bar malformed UTF-8)
    std::string id;      // the stream's last event ID when the event was dispatched
    bool named = false;  // whether the stream gave a non-empty `event:` field for this event

    bool operator==(const SseEvent&) const = default;
};

class SseParser {
public:
    // The default bound on one line and on one event's data, in bytes.
    static constexpr std::size_t kDefaultMaxSize = std::size_t{1} << 20;

    // A parser for one stream; no line (without its line end), no event's data, and no event
    // type or id once decoded may exceed `max_size` bytes.
    explicit SseParser(std::size_t max_size = kDefaultMaxSize);

    // Appends the next bytes of the stream; returns the events they complete, in order. After a
    // failure (see failed()) returns the events completed before it, then nothing for any input.
    std::vector<SseEvent> feed(std::string_view bytes);

    // The same events as feed(), in storage the parser keeps and reuses from call to call (their
    // strings keep their capacity), so a stream of small events allocates nothing once warm. The
    // span is valid until the next call to next(), feed() or finish().
    std::span<const SseEvent> next(std::string_view bytes);

    // Ends the stream (the connection closed). Per the spec an event without its final blank line
    // is discarded, never dispatched; returns whether input was pending (see has_partial()). The
    // parser may then be fed a new stream (a reconnection): last_event_id(), retry_ms() and
    // comments() carry over, as they do for a browser's EventSource.
    bool finish();

    // Whether input since the last dispatch is pending: an unterminated line, or field lines not
    // yet followed by the blank line that ends an event. Comment lines alone leave nothing pending.
    bool has_partial() const noexcept;

    // Comment lines (starting with ':') seen so far; servers send them as keep-alives.
    std::size_t comments() const noexcept { return comments_; }

    // The last event ID string: the `id:` buffer as of the latest dispatch (a blank line after
    // field lines), including dispatches with no data. Empty until the stream sets one.
    const std::string& last_event_id() const noexcept { return last_event_id_; }

    // The last `retry:` value made of ASCII digits only that fits an int, in milliseconds.
    std::optional<int> retry_ms() const noexcept { return retry_ms_; }

    // Whether a line or an event exceeded the maximum size; the parser then ignores all input.
    bool failed() const noexcept { return !error_.empty(); }

    // What failed, for the log; empty when failed() is false.
    std::string_view error() const noexcept { return error_; }

private:
    void consume(std::string_view bytes);
    // The common event, `data: …` and a blank line, taken whole; false: not that shape (nothing
    // done).
    bool single_data_event(std::string_view line, const char* base, std::size_t eol, std::size_t n);
    void process_line(std::string_view line);
    void process_field(std::string_view field, std::string_view value);
    void dispatch();
    // Dispatches an event of `data`, typed by the `event:` field seen (none: "message").
    void emit(std::string_view data);
    void fail(std::string message);

    std::size_t max_size_;
    std::string line_;     // the unterminated line carried over between feeds
    std::string scratch_;  // a field value with malformed UTF-8 replaced
    std::string data_;     // the data buffer: each `data:` value followed by "\n"
    std::string event_type_;
    std::string id_buffer_;
    std::string last_event_id_;
    std::optional<int> retry_ms_;
    std::size_t comments_ = 0;
    std::size_t bom_matched_ = 0;  // bytes of a leading BOM seen so far
    bool at_start_ = true;         // no byte of the stream has been taken as text yet
    bool skip_lf_ = false;         // the last line ended with CR: an LF next is part of its end
    bool fields_pending_ = false;  // a field line was seen since the last dispatch
    bool id_dirty_ = false;        // id_buffer_ changed since the last dispatch
    std::string error_;
    std::vector<SseEvent> events_;  // next()'s storage: the first ready_ are this call's events
    std::size_t ready_ = 0;
};

}  // namespace parley::net
