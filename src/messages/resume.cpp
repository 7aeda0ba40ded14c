#include "messages/resume.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <iterator>
#include <utility>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "common/json.hpp"
#include "common/log.hpp"

namespace parley::messages {

namespace bj = boost::json;

// --- numbering ----------------------------------------------------------------------------------

namespace {

// The first line the numberer writes for `id`, into `line`; returns its length.
std::size_t write_id_line(char (&line)[EventNumberer::kMaxIdLine], std::uint64_t id) {
    line[0] = 'i';
    line[1] = 'd';
    line[2] = ':';
    line[3] = ' ';
    char* end = std::to_chars(line + 4, std::end(line) - 1, id).ptr;
    *end++ = '\n';
    return static_cast<std::size_t>(end - line);
}

std::string id_line(std::uint64_t id) {
    char line[EventNumberer::kMaxIdLine];
    return {line, write_id_line(line, id)};
}

}  // namespace

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
        const std::string line = id_line(e.id);
        e.bytes.reserve(line.size() + event.size());
        e.bytes.append(line).append(event);
        out.push_back(std::move(e));
    }
    return out;
}

std::uint64_t EventNumberer::number_in_place(std::string& piece) {
    const auto end = piece.find("\n\n");
    if (end == std::string::npos || end + 2 != piece.size() || piece.front() == ':') {
        return 0;
    }
    // The line is written in front by hand: string::insert's general path (aliasing checks, a
    // temporary string for the line) cost more than the move itself, once per streamed delta.
    char line[kMaxIdLine];
    const std::size_t n = write_id_line(line, ++last_);
    const std::size_t size = piece.size();
    piece.resize(size + n);
    std::memmove(piece.data() + n, piece.data(), size);
    std::memcpy(piece.data(), line, n);
    return last_;
}

// --- buffer -------------------------------------------------------------------------------------

namespace {

// How many bytes `a` and `b` share in front, and then at the end (at most `most` there), compared
// eight at a time: an event is ~200 bytes, compared on the relay's path once per event. `hint`
// (what the previous event shared: an answer's deltas share the same head and tail) is tried
// first, in one memcmp; the count goes on from it when it holds.
std::size_t common_prefix(std::string_view a, std::string_view b, std::size_t hint) {
    const std::size_t n = std::min(a.size(), b.size());
    std::size_t i = 0;
    if (hint > 0 && hint <= n && std::memcmp(a.data(), b.data(), hint) == 0) {
        i = hint;
    }
    for (std::uint64_t x = 0, y = 0; i + 8 <= n; i += 8) {
        std::memcpy(&x, a.data() + i, 8);
        std::memcpy(&y, b.data() + i, 8);
        if (x != y) {
            break;
        }
    }
    while (i < n && a[i] == b[i]) {
        ++i;
    }
    return i;
}

std::size_t common_suffix(
    std::string_view a, std::string_view b, std::size_t most, std::size_t hint
) {
    const char* ae = a.data() + a.size();
    const char* be = b.data() + b.size();
    std::size_t i = 0;
    if (hint > 0 && hint <= most && std::memcmp(ae - hint, be - hint, hint) == 0) {
        i = hint;
    }
    for (std::uint64_t x = 0, y = 0; i + 8 <= most; i += 8) {
        std::memcpy(&x, ae - i - 8, 8);
        std::memcpy(&y, be - i - 8, 8);
        if (x != y) {
            break;
        }
    }
    while (i < most && a[a.size() - 1 - i] == b[b.size() - 1 - i]) {
        ++i;
    }
    return i;
}

// The length of `bytes`' first line, its newline included (all of it when there is none).
std::size_t first_line(std::string_view bytes) {
    const auto nl = bytes.find('\n');
    return nl == std::string_view::npos ? bytes.size() : nl + 1;
}

// LEB128: seven bits a byte, the low ones first; the high bit says another byte follows. Writes
// at `out` (room for 10 bytes) and returns the end.
char* put_varint(char* out, std::uint64_t v) {
    while (v >= 0x80) {
        *out++ = static_cast<char>((v & 0x7F) | 0x80);
        v >>= 7;
    }
    *out++ = static_cast<char>(v);
    return out;
}

std::uint64_t get_varint(std::string_view in, std::size_t& at) {
    std::uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
        const auto byte = static_cast<unsigned char>(in[at++]);
        v |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
        if ((byte & 0x80) == 0) {
            return v;
        }
    }
}

// Whether `line` is id_line(id), without making it.
bool is_id_line(std::string_view line, std::uint64_t id) {
    if (!line.starts_with("id: ") || !line.ends_with('\n')) {
        return false;
    }
    char digits[24];
    const char* end = std::to_chars(std::begin(digits), std::end(digits), id).ptr;
    return line.substr(4, line.size() - 5) == std::string_view(digits, end);
}

// One record of the log: the id's distance from the record before (ignored for the oldest),
// the first line (0: the standard `id: <id>` line, not kept; else its length + 1, then its bytes),
// then the prefix and suffix shared with the previous event's rest, and the middle (its length,
// then its bytes).
void put_record(
    std::string& out,
    std::uint64_t id_gap,
    std::string_view head,
    bool standard_head,
    std::size_t prefix,
    std::size_t suffix,
    std::string_view middle
) {
    char numbers[50];
    char* end = put_varint(numbers, id_gap);
    end = put_varint(end, standard_head ? 0 : head.size() + 1);
    if (!standard_head) {
        out.append(numbers, end);
        out.append(head);
        end = numbers;
    }
    end = put_varint(end, prefix);
    end = put_varint(end, suffix);
    end = put_varint(end, middle.size());
    // One growth of `out` for the numbers and the middle (a delta's record is a dozen bytes).
    const auto n = static_cast<std::size_t>(end - numbers);
    const std::size_t at = out.size();
    out.resize(at + n + middle.size());
    std::memcpy(out.data() + at, numbers, n);
    if (!middle.empty()) {
        std::memcpy(out.data() + at + n, middle.data(), middle.size());
    }
}

}  // namespace

struct EventBuffer::Record {
    std::uint64_t id_gap = 0;
    std::string_view head;  // empty with standard_head
    bool standard_head = false;
    std::size_t prefix = 0;
    std::size_t suffix = 0;
    std::string_view middle;
};

EventBuffer::Record EventBuffer::read(std::size_t& at) const {
    const std::string_view log = log_;
    Record r;
    r.id_gap = get_varint(log, at);
    const auto head = get_varint(log, at);
    r.standard_head = head == 0;
    if (!r.standard_head) {
        r.head = log.substr(at, head - 1);
        at += head - 1;
    }
    r.prefix = get_varint(log, at);
    r.suffix = get_varint(log, at);
    const auto middle = get_varint(log, at);
    r.middle = log.substr(at, middle);
    at += middle;
    return r;
}

// A record's rest: what it shares of the previous event's rest around its own middle.
std::string EventBuffer::rest_of(const Record& r, std::string_view previous) {
    std::string rest;
    rest.reserve(r.prefix + r.middle.size() + r.suffix);
    rest.append(previous.substr(0, r.prefix));
    rest.append(r.middle);
    rest.append(previous.substr(previous.size() - r.suffix));
    return rest;
}

void EventBuffer::append(std::uint64_t id, std::string_view bytes) {
    const std::size_t head = first_line(bytes);
    const std::string_view rest = bytes.substr(head);
    std::size_t prefix = 0;
    std::size_t suffix = 0;
    if (count_ > 0) {
        const std::string_view last = last_rest_;
        prefix = common_prefix(last, rest, last_prefix_);
        suffix =
            common_suffix(last, rest, std::min(last.size(), rest.size()) - prefix, last_suffix_);
    } else {
        first_id_ = id;
    }
    const std::string_view first = bytes.substr(0, head);
    put_record(
        log_,
        count_ > 0 ? id - last_id_ : 0,
        first,
        is_id_line(first, id),
        prefix,
        suffix,
        rest.substr(prefix, rest.size() - prefix - suffix)
    );
    // Copied as bytes: rest never points into last_rest_ (assign's aliasing checks are not needed).
    last_rest_.resize(rest.size());
    if (!rest.empty()) {
        std::memcpy(last_rest_.data(), rest.data(), rest.size());
    }
    last_prefix_ = prefix;
    last_suffix_ = suffix;
    last_id_ = id;
    bytes_ += bytes.size();
    ++count_;
    while (bytes_ > max_bytes_ && count_ > 1) {
        drop_oldest();
    }
}

void EventBuffer::drop_oldest() {
    // The next event becomes the oldest: it is rebuilt whole from the one dropped (kept whole).
    // Its whole record is no longer than the two it replaces, so it is written in their place,
    // ending where they ended: its rest (its middle and what it shared of the oldest's rest) is
    // at most the oldest's rest and its middle together, and each of its numbers takes no more
    // bytes than the two records' numbers it stands for (a zero gap, prefix and suffix: one
    // byte each; the rest's length: at most the two lengths' bytes together).
    std::size_t at = begin_;
    const Record oldest = read(at);
    const Record next = read(at);
    const std::size_t oldest_head =
        oldest.standard_head ? id_line(first_id_).size() : oldest.head.size();
    const std::string_view rest = oldest.middle;
    std::string record;
    put_record(record, 0, next.head, next.standard_head, 0, 0, rest_of(next, rest));
    bytes_ -= oldest_head + rest.size();
    dropped_to_ = first_id_;
    first_id_ += next.id_gap;
    --count_;
    begin_ = at - record.size();
    log_.replace(begin_, record.size(), record);
    if (begin_ > 4096 && begin_ > log_.size() / 2) {
        log_.erase(0, begin_);  // the dead front, at most as long as what is kept
        begin_ = 0;
    }
}

std::optional<std::vector<NumberedEvent>> EventBuffer::after(std::uint64_t after) const {
    if (after < dropped_to_) {
        return std::nullopt;
    }
    std::vector<NumberedEvent> out;
    std::string last;  // the previous event's rest
    std::uint64_t id = first_id_;
    std::size_t at = begin_;
    for (std::size_t i = 0; i < count_; ++i) {
        const Record r = read(at);
        if (i > 0) {
            id += r.id_gap;
        }
        std::string rest = rest_of(r, last);
        if (id > after) {
            NumberedEvent full;
            full.id = id;
            full.bytes = r.standard_head ? id_line(id) : std::string(r.head);
            full.bytes += rest;
            out.push_back(std::move(full));
        }
        last = std::move(rest);
    }
    return out;
}

// --- one stream ---------------------------------------------------------------------------------

std::string LiveStream::append(std::string piece) {
    std::uint64_t id = 0;
    std::vector<NumberedEvent> events;
    {
        const std::lock_guard lock(mutex_);
        id = numberer_.number_in_place(piece);
        if (id != 0) {
            buffer_.append(id, piece);  // a delta: one event, numbered where it is
        } else {
            events = numberer_.number(piece);
            for (const auto& e : events) {
                buffer_.append(e);
            }
        }
    }
    if (id != 0) {
        hub_.publish(info_, id, piece);
        return piece;
    }
    std::string out;
    for (const auto& e : events) {
        hub_.publish(info_, e.id, e.bytes);
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
    if (shared_ != nullptr) {
        const bj::object meta{
            {"conversation_id", info.conversation_id},
            {"format", info.format},
            {"resumable", info.resumable},
        };
        shared_->open(info.message_id, bj::serialize(meta));
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

void StreamHub::publish(const StreamInfo& info, std::uint64_t id, std::string_view bytes) {
    if (shared_ != nullptr) {
        shared_->append(info.message_id, id, bytes);
    }
}

void StreamHub::publish_end(const StreamInfo& info, std::uint64_t last_id) {
    if (shared_ != nullptr) {
        shared_->finish(info.message_id, last_id);
    }
}

boost::asio::awaitable<Result<std::optional<StreamInfo>>> StreamHub::remote_info(
    std::string message_id
) {
    if (shared_ == nullptr) {
        co_return std::optional<StreamInfo>();
    }
    auto meta = co_await shared_->meta(message_id);
    if (!meta) {
        co_return meta.error();
    }
    if (!*meta) {
        co_return std::optional<StreamInfo>();
    }
    const auto parsed = json::parse(**meta, 4);
    if (!parsed || !parsed->is_object()) {
        co_return make_error(ErrorType::overloaded, "the stream store answered badly");
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
    if (shared_ == nullptr) {
        co_return StreamRead{};
    }
    co_return co_await shared_->read(std::move(message_id), after);
}

void StreamHub::touch_remote_reader(const std::string& message_id) {
    if (shared_ != nullptr) {
        shared_->touch_reader(message_id);
    }
}

boost::asio::awaitable<bool> StreamHub::remote_reader(std::string message_id) {
    if (shared_ == nullptr) {
        co_return false;
    }
    co_return co_await shared_->has_reader(std::move(message_id));
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
