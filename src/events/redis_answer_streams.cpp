#include <charconv>
#include <utility>

#include "events/answer_streams.hpp"
#include "redis/client.hpp"

namespace parley::events {

namespace {

// A stream's keys live this long while its answer is generated (renewed by nothing: an answer
// longer than this loses its shared copy, not its local one).
constexpr std::chrono::seconds kLiveTtl{3600};
// How long a reader on another instance counts as attached after its last poll.
constexpr std::chrono::milliseconds kReaderTtl{2'000};

std::string seconds_text(std::chrono::milliseconds ms) {
    return std::to_string(std::max<std::int64_t>(1, (ms.count() + 999) / 1000));
}

// The sequence number of a stream entry id "<seq>-<n>"; `is_end` when n is not 0.
std::optional<std::uint64_t> entry_seq(std::string_view entry_id, bool& is_end) {
    const auto dash = entry_id.find('-');
    if (dash == std::string_view::npos) {
        return std::nullopt;
    }
    std::uint64_t seq = 0;
    const auto* first = entry_id.data();
    if (std::from_chars(first, first + dash, seq).ec != std::errc()) {
        return std::nullopt;
    }
    is_end = entry_id.substr(dash + 1) != "0";
    return seq;
}

Error bad_reply() {
    return make_error(ErrorType::overloaded, "the stream store answered badly");
}

}  // namespace

AnswerStreams::AnswerStreams(redis::Client& client, AnswerStreamsOptions options)
    : client_(client),
      options_(std::move(options)) {}

std::string AnswerStreams::key(std::string_view message_id, std::string_view suffix) const {
    std::string k = options_.key_prefix;
    k += message_id;
    k += suffix;
    return k;
}

void AnswerStreams::open(std::string_view message_id, std::string meta) {
    client_.send(
        {"SET", key(message_id, ":meta"), std::move(meta), "EX", std::to_string(kLiveTtl.count())}
    );
}

void AnswerStreams::append(std::string_view message_id, std::uint64_t id, std::string_view bytes) {
    // Sent in order from the relay's thread, so Redis sees the ids ascending.
    const auto stream = key(message_id);
    client_.send(
        {"XADD",
         stream,
         "MAXLEN",
         "~",
         std::to_string(options_.max_events),
         std::to_string(id) + "-0",
         "e",
         std::string(bytes)}
    );
    if (id == 1) {
        client_.send({"EXPIRE", stream, std::to_string(kLiveTtl.count())});
    }
}

void AnswerStreams::finish(std::string_view message_id, std::uint64_t last_id) {
    const auto stream = key(message_id);
    // The end marker: after the last event, not an event itself.
    client_.send({"XADD", stream, std::to_string(last_id) + "-1", "end", "1"});
    client_.send({"EXPIRE", stream, seconds_text(options_.window)});
    client_.send({"EXPIRE", key(message_id, ":meta"), seconds_text(options_.window)});
}

boost::asio::awaitable<Result<std::optional<std::string>>> AnswerStreams::meta(
    std::string message_id
) {
    // (Arguments in a named vector: g++ 12 miscompiles a braced list in a co_await.)
    std::vector<std::string> args{"GET", key(message_id, ":meta")};
    auto reply = co_await client_.command(std::move(args));
    if (!reply) {
        co_return reply.error();
    }
    if (reply->type == redis::Reply::Type::nil) {
        co_return std::optional<std::string>();
    }
    if (reply->type != redis::Reply::Type::string) {
        co_return bad_reply();
    }
    co_return std::optional<std::string>(std::move(reply->str));
}

boost::asio::awaitable<Result<StoredRead>> AnswerStreams::read(
    std::string message_id, std::uint64_t after
) {
    std::vector<std::string> args{
        "XRANGE", key(message_id), "(" + std::to_string(after) + "-0", "+", "COUNT", "512"};
    auto reply = co_await client_.command(std::move(args));
    if (!reply) {
        co_return reply.error();
    }
    if (reply->type != redis::Reply::Type::array) {
        co_return bad_reply();
    }
    StoredRead r;
    std::uint64_t expected = after + 1;
    for (auto& entry : reply->elements) {
        if (entry.elements.size() != 2 || entry.elements[1].elements.size() < 2) {
            continue;
        }
        bool is_end = false;
        const auto seq = entry_seq(entry.elements[0].str, is_end);
        if (!seq) {
            continue;
        }
        if (is_end) {
            r.finished = true;
            break;
        }
        if (*seq != expected) {
            r.gap = true;  // trimmed (MAXLEN) before this reader got there
            break;
        }
        r.events.push_back({*seq, std::move(entry.elements[1].elements[1].str)});
        ++expected;
    }
    co_return r;
}

void AnswerStreams::touch_reader(std::string_view message_id) {
    client_.send({"SET", key(message_id, ":reader"), "1", "PX", std::to_string(kReaderTtl.count())}
    );
}

boost::asio::awaitable<bool> AnswerStreams::has_reader(std::string message_id) {
    std::vector<std::string> args{"EXISTS", key(message_id, ":reader")};
    auto reply = co_await client_.command(std::move(args));
    co_return reply && reply->type == redis::Reply::Type::integer && reply->integer == 1;
}

}  // namespace parley::events
