#include "messages/resume.hpp"

#include <charconv>
#include <utility>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "common/json.hpp"
#include "common/log.hpp"
#include "redis/client.hpp"

namespace parley::messages {

namespace bj = boost::json;

namespace {

// A stream's Redis key lives this long while its answer is generated (renewed by nothing: an
// answer longer than this loses its shared copy, not its local one).
constexpr std::chrono::seconds kLiveTtl{3600};
// How long a reader on another instance counts as attached after its last poll.
constexpr std::chrono::milliseconds kRemoteReaderTtl{2'000};

std::string seconds_text(std::chrono::milliseconds ms) {
    return std::to_string(std::max<std::int64_t>(1, (ms.count() + 999) / 1000));
}

std::string meta_key(const StreamHubOptions& o, std::string_view id) {
    return o.key_prefix + std::string(id) + ":meta";
}

std::string events_key(const StreamHubOptions& o, std::string_view id) {
    return o.key_prefix + std::string(id);
}

std::string reader_key(const StreamHubOptions& o, std::string_view id) {
    return o.key_prefix + std::string(id) + ":reader";
}

// The sequence number of a stream entry id "<seq>-<n>".
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

// --- numbering ----------------------------------------------------------------------------------

std::vector<NumberedEvent> EventNumberer::number(std::string_view piece) {
    std::vector<NumberedEvent> out;
    while (!piece.empty()) {
        auto end = piece.find("\n\n");
        end = end == std::string_view::npos ? piece.size() : end + 2;
        const auto event = piece.substr(0, end);
        piece.remove_prefix(end);
        if (event.starts_with(':')) {
            continue;  // a comment: a keep-alive, not part of the answer
        }
        NumberedEvent e;
        e.id = ++last_;
        e.bytes = "id: " + std::to_string(e.id) + "\n";
        e.bytes += event;
        out.push_back(std::move(e));
    }
    return out;
}

// --- buffer -------------------------------------------------------------------------------------

void EventBuffer::append(NumberedEvent e) {
    bytes_ += e.bytes.size();
    events_.push_back(std::move(e));
    while (bytes_ > max_bytes_ && events_.size() > 1) {
        bytes_ -= events_.front().bytes.size();
        dropped_to_ = events_.front().id;
        events_.pop_front();
    }
}

std::optional<std::vector<NumberedEvent>> EventBuffer::after(std::uint64_t after) const {
    if (after < dropped_to_) {
        return std::nullopt;
    }
    std::vector<NumberedEvent> out;
    for (const auto& e : events_) {
        if (e.id > after) {
            out.push_back(e);
        }
    }
    return out;
}

// --- one stream ---------------------------------------------------------------------------------

std::string LiveStream::append(std::string_view piece) {
    std::vector<NumberedEvent> events;
    {
        const std::lock_guard lock(mutex_);
        events = numberer_.number(piece);
        for (const auto& e : events) {
            buffer_.append(e);
        }
    }
    hub_.publish(info_, events);
    std::string out;
    for (auto& e : events) {
        out += e.bytes;
    }
    return out;
}

void LiveStream::finish() {
    std::uint64_t last = 0;
    {
        const std::lock_guard lock(mutex_);
        if (finished_) {
            return;
        }
        finished_ = true;
        finished_at_ = std::chrono::steady_clock::now();
        last = numberer_.last_id();
    }
    hub_.publish_end(info_, last);
}

StreamRead LiveStream::read_after(std::uint64_t after) const {
    const std::lock_guard lock(mutex_);
    StreamRead r;
    r.finished = finished_;
    if (auto events = buffer_.after(after)) {
        r.events = std::move(*events);
    } else {
        r.gap = true;
    }
    return r;
}

void LiveStream::attach() {
    const std::lock_guard lock(mutex_);
    ++readers_;
}

void LiveStream::detach() {
    const std::lock_guard lock(mutex_);
    --readers_;
    last_left_ = std::chrono::steady_clock::now();
}

bool LiveStream::read() const {
    const std::lock_guard lock(mutex_);
    return readers_ > 0;
}

std::chrono::steady_clock::time_point LiveStream::last_left() const {
    const std::lock_guard lock(mutex_);
    return last_left_;
}

bool LiveStream::finished() const {
    const std::lock_guard lock(mutex_);
    return finished_;
}

std::chrono::steady_clock::time_point LiveStream::finished_at() const {
    const std::lock_guard lock(mutex_);
    return finished_at_;
}

// --- the hub ------------------------------------------------------------------------------------

std::shared_ptr<LiveStream> StreamHub::open(StreamInfo info) {
    if (redis_ != nullptr) {
        const bj::object meta{
            {"conversation_id", info.conversation_id},
            {"format", info.format},
            {"resumable", info.resumable},
        };
        redis_->send(
            {"SET",
             meta_key(options_, info.message_id),
             bj::serialize(meta),
             "EX",
             std::to_string(kLiveTtl.count())}
        );
    }
    auto stream = std::make_shared<LiveStream>(info, options_.max_bytes, *this);
    const std::lock_guard lock(mutex_);
    sweep();
    streams_[info.message_id] = stream;
    return stream;
}

std::shared_ptr<LiveStream> StreamHub::find(std::string_view message_id) {
    const std::lock_guard lock(mutex_);
    sweep();
    const auto it = streams_.find(message_id);
    if (it == streams_.end() || expired(*it->second, std::chrono::steady_clock::now())) {
        return nullptr;
    }
    return it->second;
}

std::size_t StreamHub::size() {
    const std::lock_guard lock(mutex_);
    next_sweep_ = {};
    sweep();
    return streams_.size();
}

bool StreamHub::expired(const LiveStream& s, std::chrono::steady_clock::time_point now) const {
    return s.finished() && now - s.finished_at() >= options_.window && !s.read();
}

void StreamHub::sweep() {
    // At most every half window (and every second): open() and find() do not walk every stream.
    const auto now = std::chrono::steady_clock::now();
    if (now < next_sweep_) {
        return;
    }
    next_sweep_ =
        now +
        std::min<std::chrono::steady_clock::duration>(options_.window / 2, std::chrono::seconds(1));
    for (auto it = streams_.begin(); it != streams_.end();) {
        if (expired(*it->second, now)) {
            it = streams_.erase(it);
        } else {
            ++it;
        }
    }
}

void StreamHub::publish(const StreamInfo& info, const std::vector<NumberedEvent>& events) {
    if (redis_ == nullptr) {
        return;
    }
    const auto key = events_key(options_, info.message_id);
    for (const auto& e : events) {
        // Sent in order from the relay's thread, so Redis sees the ids ascending.
        redis_->send(
            {"XADD",
             key,
             "MAXLEN",
             "~",
             std::to_string(options_.max_redis_events),
             std::to_string(e.id) + "-0",
             "e",
             e.bytes}
        );
        if (e.id == 1) {
            redis_->send({"EXPIRE", key, std::to_string(kLiveTtl.count())});
        }
    }
}

void StreamHub::publish_end(const StreamInfo& info, std::uint64_t last_id) {
    if (redis_ == nullptr) {
        return;
    }
    const auto key = events_key(options_, info.message_id);
    // The end marker: after the last event, not an event itself.
    redis_->send({"XADD", key, std::to_string(last_id) + "-1", "end", "1"});
    redis_->send({"EXPIRE", key, seconds_text(options_.window)});
    redis_->send({"EXPIRE", meta_key(options_, info.message_id), seconds_text(options_.window)});
}

boost::asio::awaitable<Result<std::optional<StreamInfo>>> StreamHub::remote_info(
    std::string message_id
) {
    if (redis_ == nullptr) {
        co_return std::optional<StreamInfo>();
    }
    // (Arguments in a named vector: g++ 12 miscompiles a braced list in a co_await.)
    std::vector<std::string> args{"GET", meta_key(options_, message_id)};
    auto reply = co_await redis_->command(std::move(args));
    if (!reply) {
        co_return reply.error();
    }
    if (reply->type == redis::Reply::Type::nil) {
        co_return std::optional<StreamInfo>();
    }
    if (reply->type != redis::Reply::Type::string) {
        co_return bad_reply();
    }
    const auto parsed = json::parse(reply->str, 4);
    if (!parsed || !parsed->is_object()) {
        co_return bad_reply();
    }
    const auto& o = parsed->as_object();
    StreamInfo info;
    info.message_id = std::move(message_id);
    if (const auto* c = o.if_contains("conversation_id"); c != nullptr && c->is_string()) {
        info.conversation_id = std::string(c->as_string());
    }
    if (const auto* f = o.if_contains("format"); f != nullptr && f->is_string()) {
        info.format = std::string(f->as_string());
    }
    if (const auto* r = o.if_contains("resumable"); r != nullptr && r->is_bool()) {
        info.resumable = r->as_bool();
    }
    co_return std::optional<StreamInfo>(std::move(info));
}

boost::asio::awaitable<Result<StreamRead>> StreamHub::remote_read(
    std::string message_id, std::uint64_t after
) {
    StreamRead r;
    if (redis_ == nullptr) {
        co_return r;
    }
    std::vector<std::string> args{
        "XRANGE",
        events_key(options_, message_id),
        "(" + std::to_string(after) + "-0",
        "+",
        "COUNT",
        "512"};
    auto reply = co_await redis_->command(std::move(args));
    if (!reply) {
        co_return reply.error();
    }
    if (reply->type != redis::Reply::Type::array) {
        co_return bad_reply();
    }
    std::uint64_t expected = after + 1;
    for (const auto& entry : reply->elements) {
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
        const auto& fields = entry.elements[1].elements;
        r.events.push_back({*seq, fields[1].str});
        ++expected;
    }
    co_return r;
}

void StreamHub::touch_remote_reader(const std::string& message_id) {
    if (redis_ != nullptr) {
        redis_->send(
            {"SET",
             reader_key(options_, message_id),
             "1",
             "PX",
             std::to_string(kRemoteReaderTtl.count())}
        );
    }
}

boost::asio::awaitable<bool> StreamHub::remote_reader(std::string message_id) {
    if (redis_ == nullptr) {
        co_return false;
    }
    std::vector<std::string> args{"EXISTS", reader_key(options_, message_id)};
    auto reply = co_await redis_->command(std::move(args));
    co_return reply && reply->type == redis::Reply::Type::integer && reply->integer == 1;
}

Result<std::uint64_t> parse_last_event_id(std::string_view text) {
    std::uint64_t id = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, id);
    if (text.empty() || ec != std::errc() || ptr != end) {
        return make_error(
            ErrorType::invalid_request,
            "Last-Event-ID must be the id of an event of this stream (a non-negative integer)"
        );
    }
    return id;
}

}  // namespace parley::messages
