#include "messages/routes.hpp"

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <type_traits>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "async/event.hpp"
#include "common/ids.hpp"
#include "common/json.hpp"
#include "common/log.hpp"
#include "conversations/json.hpp"
#include "http/body.hpp"
#include "http/pagination.hpp"
#include "messages/requests.hpp"

namespace parley::messages {

namespace asio = boost::asio;
namespace bj = boost::json;

namespace {

constexpr std::chrono::seconds kPingEvery{15};

// Where a request on a message route puts its turn: the route's last segments say which.
Branch branch_of(const http::Request& req, Branch::Kind kind) {
    return {kind, std::string(req.path_param("message_id"))};
}

// The content field a turn of `kind` reads: none for a regeneration (the question is stored).
std::optional<std::string_view> content_field(Branch::Kind kind) {
    if (kind == Branch::Kind::regenerate) {
        return std::nullopt;
    }
    return "content";
}

// Sleeps until `t`; when cancelled (it loses most `||` races) it returns early without an
// exception.
asio::awaitable<void> sleep_until(std::chrono::steady_clock::time_point t) {
    asio::steady_timer timer(co_await asio::this_coro::executor, t);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

// Why a turn stops when its connection closes.
StopCause stop_cause(http::CloseReason reason) {
    return reason == http::CloseReason::shutdown ? StopCause::shutdown : StopCause::client_left;
}

// A resumable answer's keep_for_readers(), run while its client is gone: started when the close
// is handled and stopped when the answer ends.
struct Keeper {
    explicit Keeper(const asio::any_io_executor& executor) : done(executor) {}

    asio::cancellation_signal stop;
    bool stopping = false;  // stop was emitted: an exception out of the keeper is that
    async::Event done;
};

// A relay's state.
// `live`: the answer's resumable stream (conversation SSE streams), which numbers and keeps the
// events; none for the other streams.
struct RelayState {
    std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();
    Turn* turn = nullptr;
    http::StreamWriter* sse = nullptr;  // the channel, when it is an SSE stream (else null)
    asio::any_io_executor executor;     // the relay's
    LiveStream* live = nullptr;
    StreamHub* hub = nullptr;
    bool detached = false;  // the reader left `live`
    // Set when the channel's close is seen: the posted handle_close() reaches the relay through
    // it, and finds null once the relay has ended.
    std::shared_ptr<RelayState*> close_token;
    http::CloseReason closed_by = http::CloseReason::none;
    std::unique_ptr<Keeper> keeper;
    // Awaited after the answer's events are written and before its ending is: what the client
    // may rely on once it reads the ending (a WebSocket session's event log is stored).
    std::function<asio::awaitable<void>()> before_end;
};

// Whether a channel carries one message per piece (http::WebSocket) rather than one byte stream
// (http::StreamWriter, SSE).
template <class Channel>
constexpr bool kFramed = !std::is_base_of_v<http::StreamWriter, Channel>;

// Writes `pieces` to the channel: one message each on a framed channel, else in one write.
template <class Channel>
asio::awaitable<void> send_pieces(
    Channel& channel, std::vector<std::string>& pieces, std::size_t from, std::size_t to
) {
    if (from >= to) {
        co_return;
    }
    if constexpr (kFramed<Channel>) {
        for (std::size_t i = from; i < to; ++i) {
            if (!co_await channel.send(std::move(pieces[i]))) {
                break;
            }
        }
    } else if (to - from == 1) {
        co_await channel.send(std::move(pieces[from]));
    } else {
        std::string all;
        for (std::size_t i = from; i < to; ++i) {
            all += pieces[i];
        }
        co_await channel.send(std::move(all));
    }
}

// send_pieces() of all `pieces` as a plain call (SSE; issue 14: no coroutine per delta). False
// when part of them had to wait: channel.flush() writes it.
bool try_send_pieces(http::StreamWriter& channel, const std::vector<std::string>& pieces) {
    if (pieces.size() == 1) {
        return channel.try_send(pieces.front());
    }
    std::string all;
    for (const auto& piece : pieces) {
        all += piece;
    }
    return channel.try_send(all);
}

constexpr std::chrono::milliseconds kReaderCheckEvery{250};

// A resumable answer whose reader left: it goes on while someone reads it again (here or, with
// Redis, on another instance) and stops once nobody has for the window, or when the server
// drains (then it is stored as a shutdown stops it, before the server's loops stop).
asio::awaitable<void> keep_for_readers(
    Turn& turn, LiveStream& live, StreamHub& hub, http::StreamWriter& channel
) {
    using namespace asio::experimental::awaitable_operators;  // NOLINT
    auto anchor = live.last_left();
    for (;;) {
        const auto now = std::chrono::steady_clock::now();
        bool reading = live.read();
        if (!reading && hub.shared()) {
            reading = co_await hub.remote_reader(live.info().message_id);
        }
        if (reading) {
            anchor = now;
        } else {
            anchor = std::max(anchor, live.last_left());
            if (now >= anchor + hub.options().window) {
                turn.cancel(StopCause::client_left);
                co_return;
            }
        }
        auto woke = co_await (
            channel.draining() ||
            sleep_until(std::min(anchor + hub.options().window, now + kReaderCheckEvery))
        );
        const asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none) {
            co_return;  // the answer ended
        }
        if (woke.index() == 0) {
            turn.cancel(StopCause::shutdown);
            co_return;
        }
    }
}

// What a relay does once its channel closed (the client left, or the server drains): cancels
// the turn, whose `end` the relay then reads, or keeps a resumable answer going for its readers.
// A plain handler, posted when the close is seen (close_seen()): it runs at once whatever the
// relay is doing (a write to a slow client may take until BODY_TIMEOUT_S), and never inside a
// call from the turn (on_close() may be called from a write the turn's push made), where a
// cancel would reach the provider from inside its own read handler. (A watching coroutine beside
// the relay, `||`, held two co_spawned coroutines for the whole stream: issue 14.)
void handle_close(RelayState& state) {
    const asio::any_io_executor& executor = state.executor;
    const http::CloseReason why = state.closed_by;
    if (state.live != nullptr) {
        state.live->detach();
        state.detached = true;
    }
    // (Only SSE streams are kept.)
    if (state.sse != nullptr && state.live != nullptr && state.live->info().resumable &&
        why == http::CloseReason::client_left) {
        state.keeper = std::make_unique<Keeper>(executor);
        asio::co_spawn(
            executor,
            keep_for_readers(*state.turn, *state.live, *state.hub, *state.sse),
            asio::bind_cancellation_slot(
                state.keeper->stop.slot(),
                [keeper = state.keeper.get()](const std::exception_ptr& failed) {
                    if (failed && !keeper->stopping) {
                        // (The answer goes on to its end and is stored, as it would be with its
                        // reader.)
                        try {
                            std::rethrow_exception(failed);
                        } catch (const std::exception& e) {
                            log::warn("a kept stream's watch failed", {{"what", e.what()}});
                        } catch (...) {
                            log::warn("a kept stream's watch failed");
                        }
                    }
                    keeper->done.set();
                }
            )
        );
        return;
    }
    state.turn->cancel(stop_cause(why));
}

// The channel's close, seen (its on_close(), or at the relay's start): handle_close() is posted,
// once.
void close_seen(RelayState& state, http::CloseReason why) {
    if (state.close_token != nullptr) {
        return;
    }
    state.closed_by = why;
    state.close_token = std::make_shared<RelayState*>(&state);
    asio::post(state.executor, [token = state.close_token] {
        if (*token != nullptr) {
            handle_close(**token);
        }
    });
}

// Writes a turn's events to a client until the turn ends: deltas as they come (those already
// queued go out together), a ping after kPingEvery without a write, and the ending.
template <class Channel>
asio::awaitable<void> relay_events(
    Turn& turn, StreamEncoder& encoder, Channel& channel, RelayState& state
) {
    std::vector<std::string> pending;
    const auto add_raw = [&pending](std::string piece) {
        if (!piece.empty()) {
            pending.push_back(std::move(piece));
        }
    };
    // An event of the answer: numbered and kept when the stream is resumable.
    const auto add = [&add_raw, &state](std::string piece) {
        add_raw(
            state.live != nullptr && !piece.empty() ? state.live->append(std::move(piece))
                                                    : std::move(piece)
        );
    };
    bool ended = false;
    std::size_t end_at = 0;  // where the ending starts in `pending`
    const auto handle = [&](const TurnEvent& e) {
        switch (e.kind) {
            case TurnEvent::Kind::thinking:
                add(encoder.thinking(e.text));
                break;
            case TurnEvent::Kind::text:
                add(encoder.text(e.text));
                break;
            case TurnEvent::Kind::tool_call:
                add(encoder.tool_call(e.tool_id, e.tool_name, e.text));
                break;
            case TurnEvent::Kind::tool_result:
                add(encoder.tool_result(e.tool_id, e.tool_name, e.text, e.ok));
                break;
            case TurnEvent::Kind::end:
                ended = true;
                end_at = pending.size();
                // A kept stream gets its ending even when its first reader is gone.
                if (channel.close_reason() != http::CloseReason::client_left ||
                    state.live != nullptr) {
                    add(encoder.finish(turn.outcome()));
                }
                if (state.live != nullptr) {
                    state.live->finish();
                }
                break;
        }
    };
    add(encoder.start(turn.start()));
    // While this coroutine waits, the deltas that come are written by a plain call from the turn
    // (SSE; issue 14: no resumption of the relay per delta). Anything else (the ending, a tool
    // event, a write that has to wait, a client gone) wakes it, as every event did before.
    [[maybe_unused]] bool flush_needed = false;

    struct InlineReader {
        Turn& turn;

        ~InlineReader() { turn.set_inline_reader({}); }
    };

    const InlineReader unset{turn};
    if constexpr (!kFramed<Channel>) {
        turn.set_inline_reader([&]() -> bool {
            if (channel.close_reason() == http::CloseReason::client_left) {
                return false;
            }
            for (const TurnEvent* e = turn.peek(); e != nullptr && e->delta(); e = turn.peek()) {
                handle(*e);
                turn.pop();
            }
            if (!pending.empty()) {
                flush_needed = !try_send_pieces(channel, pending);
                for (auto& piece : pending) {
                    encoder.recycle(std::move(piece));  // written or copied by try_send
                }
                pending.clear();
                state.last_write = std::chrono::steady_clock::now();
            }
            return !flush_needed && turn.peek() == nullptr;
        });
    }
    bool ping = false;
    for (;;) {
        while (!ended) {
            const TurnEvent* e = turn.peek();
            if (e == nullptr) {
                break;
            }
            handle(*e);
            turn.pop();
        }
        if (ping && !ended) {
            add_raw(encoder.ping());  // not an event of the answer: not numbered
        }
        if (!pending.empty() && channel.close_reason() != http::CloseReason::client_left) {
            if (ended && state.before_end) {
                co_await send_pieces(channel, pending, 0, end_at);
                co_await state.before_end();
                co_await send_pieces(channel, pending, end_at, pending.size());
            } else if constexpr (kFramed<Channel>) {
                co_await send_pieces(channel, pending, 0, pending.size());
            } else if (!try_send_pieces(channel, pending)) {
                co_await channel.flush();
            }
            state.last_write = std::chrono::steady_clock::now();
        }
        pending.clear();
        if (ended) {
            co_return;
        }
        // One timer for both: the turn's wake-up, armed at the ping time (once per wait, not
        // a second timer and coroutine racing it for the whole answer). No ping once the client
        // left: nothing is written, and a ping time that never moves on would end every wait at
        // once.
        const auto ping_at = channel.close_reason() == http::CloseReason::client_left
                                 ? std::chrono::steady_clock::time_point::max()
                                 : state.last_write + kPingEvery;
        const bool woken = co_await turn.wait_until(ping_at);
        if constexpr (!kFramed<Channel>) {
            if (flush_needed) {
                flush_needed = false;  // what the inline reader could not write at once
                co_await channel.flush();
            }
        }
        // (The deltas written inline while it waited moved last_write on.)
        ping = !woken && std::chrono::steady_clock::now() >= state.last_write + kPingEvery;
    }
}

// Relays a turn to a client until the turn ends. When the client leaves, the turn is cancelled
// (and stores what it has); when the server drains, the client gets the encoder's error and the
// turn is stored the same way. `Channel` is http::StreamWriter (SSE: one write for everything
// pending) or http::WebSocket (one message per piece). Per delta this is at most one wake-up of
// the relay; the channel's close is handled beside it (close_seen(), handle_close()).
template <class Channel>
asio::awaitable<void> relay(
    Turn& turn,
    StreamEncoder& encoder,
    Channel& channel,
    LiveStream* live,
    StreamHub* hub,
    std::function<asio::awaitable<void>()> before_end = {}
) {
    RelayState state;
    state.turn = &turn;
    if constexpr (!kFramed<Channel>) {
        state.sse = &channel;
    }
    state.live = live;
    state.hub = hub;
    state.before_end = std::move(before_end);
    if (live != nullptr) {
        live->attach();
    }

    struct Unwatch {
        Channel& channel;
        RelayState& state;

        ~Unwatch() {
            channel.on_close(nullptr);
            if (state.close_token != nullptr) {
                *state.close_token = nullptr;  // a handle_close() still queued finds no relay
            }
        }
    };

    state.executor = co_await asio::this_coro::executor;
    channel.on_close([&state](http::CloseReason why) { close_seen(state, why); });
    if (channel.close_reason() != http::CloseReason::none) {
        close_seen(state, channel.close_reason());  // before on_close() was set
    }
    std::exception_ptr failed;
    {
        const Unwatch unwatch{channel, state};
        try {
            co_await relay_events(turn, encoder, channel, state);
        } catch (...) {
            failed = std::current_exception();
        }
    }
    if (state.keeper != nullptr) {
        if (!state.keeper->done.is_set()) {
            state.keeper->stopping = true;
            state.keeper->stop.emit(asio::cancellation_type::terminal);
        }
        co_await state.keeper->done.wait();
    }
    if (live != nullptr && !state.detached) {
        live->detach();
    }
    if (failed) {
        std::rethrow_exception(failed);
    }
}

}  // namespace

namespace {

// POST …/messages and the edit and regenerate routes: the answer as one JSON document.
asio::awaitable<http::Response> answer(http::Request& req, MessageService& svc, Branch::Kind kind) {
    const auto body = value_or_throw(http::read_json_object(req));
    auto message = value_or_throw(new_message_of(body, content_field(kind)));
    auto branch = branch_of(req, kind);  // a named local: see MessageService::send
    const auto reply = value_or_throw(co_await svc.send(
        req.principal(), req.path_param("id"), std::move(message), std::move(branch)
    ));
    co_return http::success(conversations::message_json(reply));
}

}  // namespace

asio::awaitable<http::Response> send(http::Request& req, MessageService& svc) {
    co_return co_await answer(req, svc, Branch::Kind::append);
}

asio::awaitable<http::Response> edit(http::Request& req, MessageService& svc) {
    co_return co_await answer(req, svc, Branch::Kind::edit);
}

asio::awaitable<http::Response> regenerate(http::Request& req, MessageService& svc) {
    co_return co_await answer(req, svc, Branch::Kind::regenerate);
}

namespace {

// stream_turn, and with `kept` (conversation SSE streams) the answer's events numbered and kept in
// `hub` for GET …/messages/{message_id}/stream. The stream is opened when the first event is
// there (a turn that fails before it has no stream).
asio::awaitable<http::Response> stream_turn_in(
    http::Request& req,
    std::shared_ptr<Turn> turn,
    std::shared_ptr<StreamEncoder> encoder,
    std::optional<StreamInfo> kept,
    StreamHub* hub
) {
    // The first event, or the client's leaving (or a drain) before it.
    http::CloseReason left = http::CloseReason::none;
    {
        struct Unwatch {
            http::Request& req;

            ~Unwatch() { req.watch_close({}); }
        };

        req.watch_close([&left, waiting = turn.get()](http::CloseReason why) {
            left = why;  // (called once at most)
            waiting->wake();
        });
        const Unwatch unwatch{req};
        while (turn->peek() == nullptr && left == http::CloseReason::none) {
            co_await turn->wait_until(std::chrono::steady_clock::time_point::max());
        }
    }
    // The turn's push may have resumed this inline, inside the provider's read handler: what
    // follows (the head's write, the relay, a session that ends and drops the turn) runs from
    // the loop instead.
    const auto executor = co_await asio::this_coro::executor;
    co_await asio::post(executor, asio::use_awaitable);
    if (turn->peek() == nullptr) {
        turn->cancel(stop_cause(left));
        while ((co_await turn->next()).kind != TurnEvent::Kind::end) {
        }
        throw ErrorException(make_error(ErrorType::overloaded, turn->outcome().error_message));
    }
    // (The event stays queued: the relay writes it.)
    if (turn->peek()->kind == TurnEvent::Kind::end && turn->failure()) {
        throw ErrorException(*turn->failure());
    }
    std::shared_ptr<LiveStream> live;
    if (kept && hub != nullptr) {
        kept->message_id = turn->start().message_id;
        kept->conversation_id = turn->start().conversation_id;
        live = hub->open(std::move(*kept));
    }
    http::Response res;
    res.status = 200;
    res.content_type = std::string(encoder->content_type());
    res.cacheable = true;  // not no-store: streams want no-cache, set here
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.body_writer = [turn, encoder, live, hub](http::StreamWriter& writer
                      ) -> asio::awaitable<void> {
        co_await relay(*turn, *encoder, writer, live.get(), hub);
    };
    co_return res;
}

}  // namespace

asio::awaitable<http::Response> stream_turn(
    http::Request& req, std::shared_ptr<Turn> turn, std::shared_ptr<StreamEncoder> encoder
) {
    co_return co_await stream_turn_in(
        req, std::move(turn), std::move(encoder), std::nullopt, nullptr
    );
}

namespace {

// The ?format= of a conversation SSE stream, if given. Errors: invalid_request.
std::optional<std::string> sse_format_of(const http::Request& req) {
    auto format = req.query_param("format");
    if (format && *format != "anthropic" && *format != "openai") {
        throw ErrorException(make_error(
            ErrorType::invalid_request, R"(format must be "anthropic" (the default) or "openai")"
        ));
    }
    return format;
}

// POST …/messages/stream and the edit and regenerate routes' /stream: the answer as Server-Sent
// Events.
asio::awaitable<http::Response> answer_stream(
    http::Request& req, MessageService& svc, StreamHub& hub, Branch::Kind kind
) {
    const auto format = sse_format_of(req).value_or("anthropic");
    auto body = value_or_throw(http::read_json_object(req));
    // `resumable` is the stream's, not the message's: taken out before the message is read.
    const bool resumable = value_or_throw(json::optional_bool(body, "resumable")).value_or(false);
    body.erase("resumable");
    auto message = value_or_throw(new_message_of(body, content_field(kind)));
    auto branch = branch_of(req, kind);  // a named local: see MessageService::send
    std::shared_ptr<Turn> turn = value_or_throw(co_await svc.start(
        req.principal(), req.path_param("id"), std::move(message), std::move(branch)
    ));
    std::shared_ptr<StreamEncoder> encoder =
        format == "openai" ? make_openai_encoder() : make_anthropic_encoder();
    StreamInfo kept;
    kept.format = std::string(format);
    kept.resumable = resumable;
    co_return co_await stream_turn_in(
        req, std::move(turn), std::move(encoder), std::move(kept), &hub
    );
}

}  // namespace

asio::awaitable<http::Response> stream(http::Request& req, MessageService& svc, StreamHub& hub) {
    co_return co_await answer_stream(req, svc, hub, Branch::Kind::append);
}

asio::awaitable<http::Response> edit_stream(
    http::Request& req, MessageService& svc, StreamHub& hub
) {
    co_return co_await answer_stream(req, svc, hub, Branch::Kind::edit);
}

asio::awaitable<http::Response> regenerate_stream(
    http::Request& req, MessageService& svc, StreamHub& hub
) {
    co_return co_await answer_stream(req, svc, hub, Branch::Kind::regenerate);
}

namespace {

constexpr std::chrono::milliseconds kLocalPoll{20};    // a reader of this instance's stream
constexpr std::chrono::milliseconds kRemotePoll{100};  // of another's, through Redis
constexpr int kTouchEvery = 5;                         // remote polls between reader renewals
// A remote stream without a new event for this long is given up (its instance may have died with
// it): longer than an answer may take (LLM_TOTAL_TIMEOUT_S, 300 s by default).
constexpr std::chrono::seconds kRemoteSilence{330};

std::unique_ptr<StreamEncoder> sse_encoder(std::string_view format) {
    return format == "openai" ? make_openai_encoder() : make_anthropic_encoder();
}

// A stored answer as the events of `format`, numbered from 1: the start, its thinking, its text
// and its ending, each in one delta.
std::string stored_events(const store::Message& m, std::string_view format) {
    auto encoder = sse_encoder(format);
    StreamStart start;
    start.message_id = m.id;
    start.conversation_id = m.conversation_id;
    start.user_message_id = m.parent_id.value_or("");
    start.model = m.model.value_or("");
    start.input_tokens = m.input_tokens;
    start.created_unix =
        std::chrono::duration_cast<std::chrono::seconds>(m.created_at.time_since_epoch()).count();
    std::string all = encoder->start(start);
    if (m.thinking && !m.thinking->empty()) {
        all += encoder->thinking(*m.thinking);
    }
    if (!m.content.empty()) {
        all += encoder->text(m.content);
    }
    StreamEnd end;
    end.reply = m;
    if (m.status == "error") {
        end.error_type = "api_error";
        end.error_message = "the answer failed";
    }
    all += encoder->finish(end);
    std::string out;
    EventNumberer numberer;
    for (auto& e : numberer.number(all)) {
        out += e.bytes;
    }
    return out;
}

http::Response event_stream_head() {
    http::Response res;
    res.status = 200;
    res.content_type = "text/event-stream; charset=utf-8";
    res.cacheable = true;
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    return res;
}

using ReadAfter = std::function<asio::awaitable<Result<StreamRead>>(std::uint64_t)>;

// Writes `first` and then what `read` finds after it, every `poll`, until the stream's end, a
// gap, a failed read (the client may resume again), `silence` without a new event, or the client
// leaving; `on_poll` runs at each poll.
asio::awaitable<void> replay(
    http::StreamWriter& writer,
    StreamRead first,
    std::uint64_t after,
    ReadAfter read,
    std::chrono::milliseconds poll,
    std::chrono::steady_clock::duration silence,
    std::string ping,
    std::function<void()> on_poll
) {
    using namespace asio::experimental::awaitable_operators;  // NOLINT
    StreamRead r = std::move(first);
    auto last_write = std::chrono::steady_clock::now();
    auto last_event = last_write;
    for (;;) {
        if (!r.events.empty()) {
            last_event = std::chrono::steady_clock::now();
            std::string all;
            for (const auto& e : r.events) {
                all += e.bytes;
            }
            after = r.events.back().id;
            if (!co_await writer.send(std::move(all))) {
                co_return;
            }
            last_write = std::chrono::steady_clock::now();
        }
        if (r.finished || r.gap || std::chrono::steady_clock::now() >= last_event + silence) {
            co_return;
        }
        if (std::chrono::steady_clock::now() >= last_write + kPingEvery) {
            if (!co_await writer.send(ping)) {
                co_return;
            }
            last_write = std::chrono::steady_clock::now();
        }
        auto woke =
            co_await (writer.closed() || sleep_until(std::chrono::steady_clock::now() + poll));
        if (woke.index() == 0) {
            co_return;
        }
        if (on_poll) {
            on_poll();
        }
        auto next = co_await read(after);
        if (!next) {
            co_return;
        }
        r = std::move(*next);
    }
}

}  // namespace

asio::awaitable<http::Response> resume_stream(
    http::Request& req,
    conversations::ConversationService& conversations,
    store::Store& store,
    StreamHub& hub
) {
    auto conversation = co_await conversations.get(req.principal(), req.path_param("id"));
    if (!conversation && conversation.error().type == ErrorType::permission) {
        // Owner only, and without saying whose it is.
        throw ErrorException(make_error(ErrorType::not_found, "conversation not found"));
    }
    const std::string conversation_id = value_or_throw(std::move(conversation)).id;
    const std::string message_id(req.path_param("message_id"));
    std::uint64_t after = 0;
    auto last = req.header("Last-Event-ID");
    const auto query_last = req.query_param("last_event_id");
    if (!last && query_last) {
        last = *query_last;
    }
    if (last) {
        after = value_or_throw(parse_last_event_id(*last));
    }
    const auto format = sse_format_of(req);
    if (!is_uuid(message_id)) {
        throw ErrorException(make_error(ErrorType::not_found, "message not found"));
    }
    const auto gone = [&] {
        return make_error(
            ErrorType::conflict,
            "the events after " + std::to_string(after) +
                " are no longer kept (the answer is long); read it again once it has ended"
        );
    };

    // This instance's stream.
    std::shared_ptr<LiveStream> live = hub.find(message_id);
    if (live && live->info().conversation_id == conversation_id) {
        StreamRead first = live->read_after(after);
        if (!first.gap) {
            http::Response res = event_stream_head();
            res.body_writer = [live, first, after](http::StreamWriter& writer
                              ) -> asio::awaitable<void> {
                live->attach();
                const ReadAfter read = [live](std::uint64_t a
                                       ) -> asio::awaitable<Result<StreamRead>> {
                    co_return live->read_after(a);
                };
                co_await replay(
                    writer,
                    first,
                    after,
                    read,
                    kLocalPoll,
                    std::chrono::steady_clock::duration::max() / 2,  // a local turn always ends
                    sse_encoder(live->info().format)->ping(),
                    {}
                );
                live->detach();
            };
            co_return res;
        }
        if (!first.finished) {
            throw ErrorException(gone());
        }
    }

    // Another instance's, through Redis.
    bool unreadable = false;  // Redis did not answer
    if (!live && hub.shared()) {
        auto info = co_await hub.remote_info(message_id);
        if (!info) {
            unreadable = true;
        } else if (*info && (*info)->conversation_id == conversation_id) {
            auto first = co_await hub.remote_read(message_id, after);
            if (!first) {
                unreadable = true;
            } else if (!first->gap) {
                hub.touch_remote_reader(message_id);
                http::Response res = event_stream_head();
                res.body_writer = [&hub,
                                   message_id,
                                   first = std::move(*first),
                                   after,
                                   ping = sse_encoder((*info)->format)->ping()](
                                      http::StreamWriter& writer
                                  ) -> asio::awaitable<void> {
                    const ReadAfter read = [&hub, message_id](std::uint64_t a) {
                        return hub.remote_read(message_id, a);
                    };
                    int polls = 0;
                    const auto touch = [&hub, &message_id, &polls] {
                        if (++polls % kTouchEvery == 0) {
                            hub.touch_remote_reader(message_id);
                        }
                    };
                    co_await replay(
                        writer, first, after, read, kRemotePoll, kRemoteSilence, ping, touch
                    );
                };
                co_return res;
            }
        }
    }

    // The stream is gone (or never was here): the whole stored answer.
    auto path = value_or_throw(co_await store.message_path(conversation_id, message_id, 1));
    if (path.empty() || path.back().message->id != message_id ||
        path.back().message->role != "assistant") {
        if (unreadable) {
            throw ErrorException(make_error(
                ErrorType::overloaded,
                "the answer's stream cannot be read now (its store does not answer); retry"
            ));
        }
        throw ErrorException(make_error(ErrorType::not_found, "no answer with this id here"));
    }
    http::Response res = event_stream_head();
    res.body = stored_events(
        *path.back().message, live ? live->info().format : std::string(format.value_or("anthropic"))
    );
    co_return res;
}

asio::awaitable<http::Response> prompt_stream(
    http::Request& req, MessageService& svc, conversations::ConversationService& conversations
) {
    const auto format = req.query_param("stream_format").value_or("text");
    std::shared_ptr<StreamEncoder> encoder;
    if (format == "text") {
        encoder = make_text_encoder();
    } else if (format == "openai") {
        encoder = make_openai_ndjson_encoder();
    } else if (format == "sse") {
        encoder = make_openai_encoder();
    } else {
        throw ErrorException(make_error(
            ErrorType::unprocessable, "stream_format must be text (the default), openai or sse"
        ));
    }
    const auto body = value_or_throw(http::read_json_object(req));
    auto prompt = value_or_throw(prompt_of(body));
    // Each call is a conversation of its own, titled by its prompt (no title model call).
    conversations::NewConversation spec;
    spec.title = title_from_message(prompt);
    const auto conversation =
        value_or_throw(co_await conversations.create(req.principal(), std::move(spec)));
    NewMessage message;
    message.content = std::move(prompt);
    std::shared_ptr<Turn> turn =
        value_or_throw(co_await svc.start(req.principal(), conversation.id, std::move(message)));
    co_return co_await stream_turn(req, std::move(turn), std::move(encoder));
}

namespace {

// An encoder that also writes the session's event log: tokens (coalesced by the log) and the end.
class LoggingEncoder final : public StreamEncoder {
public:
    LoggingEncoder(std::unique_ptr<StreamEncoder> inner, std::shared_ptr<SessionLog> log)
        : inner_(std::move(inner)),
          log_(std::move(log)) {}

    std::string start(const StreamStart& s) override {
        if (!s.routing.empty()) {
            log_->event("routing", s.routing);
        }
        return inner_->start(s);
    }

    std::string thinking(std::string_view delta) override { return inner_->thinking(delta); }

    std::string text(std::string_view delta) override {
        log_->token(delta);
        return inner_->text(delta);
    }

    std::string finish(const StreamEnd& end) override {
        if (end.error_type) {
            log_->event("system_event", "turn failed: " + end.error_message);
        }
        return inner_->finish(end);
    }

    std::string ping() override { return inner_->ping(); }

    std::string tool_call(std::string_view id, std::string_view name, std::string_view arguments)
        override {
        log_->event(
            "tool_call",
            bj::serialize(bj::object{{"id", id}, {"tool", name}, {"arguments", arguments}})
        );
        return inner_->tool_call(id, name, arguments);
    }

    std::string tool_result(
        std::string_view id, std::string_view name, std::string_view result, bool ok
    ) override {
        log_->event(
            "tool_result",
            bj::serialize(bj::object{{"id", id}, {"tool", name}, {"result", result}, {"ok", ok}})
        );
        return inner_->tool_result(id, name, result, ok);
    }

    std::string_view content_type() const noexcept override { return inner_->content_type(); }

private:
    std::unique_ptr<StreamEncoder> inner_;
    std::shared_ptr<SessionLog> log_;
};

std::string error_frame(const Error& e) {
    bj::object frame{
        {"type", "error"}, {"content", e.message}, {"error_type", error_type_name(e.type)}};
    if (e.retry_after_s) {
        frame["retry_after"] = *e.retry_after_s;
    }
    return bj::serialize(frame);
}

}  // namespace

asio::awaitable<http::Response> websocket(
    http::Request& req,
    MessageService& svc,
    conversations::ConversationService& conversations,
    auth::AuthGate* gate,
    SessionService& sessions
) {
    if (!req.is_websocket_upgrade()) {
        throw ErrorException(make_error(
            ErrorType::invalid_request,
            "this route is a WebSocket: send Connection: Upgrade and Upgrade: websocket"
        ));
    }
    const auto session = std::string(req.path_param("session_id"));
    const bool seed = !session.empty();
    Principal who = req.principal();
    if (seed) {
        // Open mode, no credential: the seed's ?user_id= names a guest user of its own.
        who = value_or_throw(co_await sessions.caller(who, req.query_param("user_id")));
    }
    Result<store::Conversation> found = make_error(ErrorType::not_found, "");
    if (!seed) {  // (no co_await inside ?: with g++ 12)
        found = co_await conversations.get(who, req.path_param("id"));
    } else {
        found = co_await conversations.attach_session(who, session);
    }
    const store::Conversation conversation = value_or_throw(std::move(found));
    http::Response res;
    res.status = 101;
    res.websocket = [&svc,
                     &sessions,
                     gate,
                     seed,
                     who,
                     id = conversation.id,
                     json_max_depth =
                         req.json_max_depth()](http::WebSocket& ws) -> asio::awaitable<void> {
        auto claim = co_await sessions.claim(id);
        if (!claim) {
            // Two sockets on one session would interleave their turns: the second is refused.
            co_await ws.send(error_frame(make_error(
                ErrorType::conflict,
                "this session is already open in another connection; close it first or use "
                "another session id"
            )));
            co_return;
        }
        const auto executor = co_await asio::this_coro::executor;
        const auto log = sessions.open_log(id, executor);
        log->event("system_event", "session started");
        int turns = 0;
        while (auto text = co_await ws.receive()) {
            Result<NewMessage> message = frame_message_of(std::move(*text), json_max_depth, seed);
            Result<std::unique_ptr<Turn>> turn = message.error();
            bool admitted = static_cast<bool>(message);
            if (admitted && gate != nullptr) {
                // Each turn is a model call: the per-user model limit, as for the HTTP routes.
                if (auto ok = co_await gate->admit_model_call(who); !ok) {
                    turn = ok.error();
                    admitted = false;
                }
            }
            if (admitted) {
                log->event("user_message", message->content);
                turn = co_await svc.start(who, id, std::move(*message));
            }
            if (!turn) {
                if (!co_await ws.send(error_frame(turn.error()))) {
                    break;
                }
                continue;
            }
            ++turns;
            LoggingEncoder encoder(make_websocket_encoder(), log);
            // The turn's events are stored before its `done` frame goes out: a client that reads
            // the log on `done` finds them all.
            const auto flush_log = [log]() -> asio::awaitable<void> {
                co_await log->flush();
            };
            co_await relay(**turn, encoder, ws, nullptr, nullptr, flush_log);
            co_await log->flush();
            if (ws.close_reason() != http::CloseReason::none) {
                break;
            }
        }
        log->event("system_event", "session ended");
        co_await log->flush();
        if (turns > 0) {
            sessions.summarize_later(who, id, executor);
        }
    };
    co_return res;
}

asio::awaitable<http::Response> session_events(http::Request& req, SessionService& sessions) {
    const auto limit = value_or_throw(http::integer_param(req, "limit", 100, 1, 1000));
    auto after = req.query_param("after");
    if (after && !is_uuid(*after)) {
        throw ErrorException(
            make_error(ErrorType::unprocessable, "after must be the id of an event (a UUID)")
        );
    }
    const auto events = value_or_throw(
        co_await sessions.events(req.principal(), req.path_param("id"), std::move(after), limit)
    );
    bj::array data;
    for (const auto& e : events) {
        data.push_back(bj::object{
            {"id", e.id},
            {"type", e.type},
            {"content", e.content},
            {"created_at", to_iso8601(e.created_at)},
        });
    }
    const bool more = static_cast<std::int64_t>(events.size()) == limit;
    co_return http::json_response(
        200,
        bj::object{
            {"status", "success"},
            {"data", std::move(data)},
            {"next_cursor", more ? bj::value(events.back().id) : bj::value(nullptr)},
            {"has_more", more},
        }
    );
}

asio::awaitable<http::Response> summarize(http::Request& req, SessionService& sessions) {
    const auto c =
        value_or_throw(co_await sessions.summarize(req.principal(), req.path_param("id")));
    co_return http::success(bj::object{
        {"conversation_id", c.id},
        {"summary", c.summary ? bj::value(*c.summary) : bj::value(nullptr)},
        {"summary_updated_at",
         c.summary_updated_at ? bj::value(to_iso8601(*c.summary_updated_at)) : bj::value(nullptr)},
    });
}

asio::awaitable<http::Response> session_summary(http::Request& req, SessionService& sessions) {
    const Principal who =
        value_or_throw(co_await sessions.caller(req.principal(), req.query_param("user_id")));
    const auto s =
        value_or_throw(co_await sessions.session_summary(who, req.path_param("session_id")));
    const auto seconds = std::chrono::duration<double>(s.end_time - s.start_time).count();
    // The seed's shape, not wrapped in Parley's envelope.
    co_return http::json_response(
        200,
        bj::object{
            {"session_id", s.session_id},
            {"summary", s.summary},
            {"start_time", to_iso8601(s.start_time)},
            {"end_time", to_iso8601(s.end_time)},
            {"duration_seconds", std::max(seconds, 0.0)},
            {"message_count", s.message_count},
        }
    );
}

}  // namespace parley::messages
