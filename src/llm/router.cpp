#include "llm/router.hpp"

#include <algorithm>
#include <memory>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "async/deadline.hpp"
#include "common/log.hpp"

namespace parley::llm {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

struct ModelRouter::Attempt {
    EventSink* sink = nullptr;
    std::chrono::milliseconds between{};
    Clock::time_point total_deadline;
    Clock::time_point first_deadline;     // the first token's, never past total_deadline
    async::Deadline* watchdog = nullptr;  // the attempt's, while the provider streams
    bool started = false;                 // a delta reached the caller: no fallback from here on
    bool finished = false;                // a stop or an error reached the caller
    bool expired = false;                 // the watchdog fired (the attempt timed out)
    // The provider's call was stopped (the watchdog fired, or the caller was cancelled): what the
    // provider still says on its way out (its broken connection) is not an event of the answer.
    bool stopped = false;
    bool ok = false;
    // (Pointers, not optional events: an Attempt is a local of the router's frame, which lives as
    // long as the answer, and an event is ~256 bytes. Issue 14, memory per open stream.)
    std::unique_ptr<StreamEvent> usage;    // held until the answer starts or stops
    std::unique_ptr<StreamEvent> failure;  // an error before anything was forwarded
};

namespace {

std::chrono::milliseconds jittered_backoff(const RouterOptions& o, int retry) {
    thread_local std::mt19937 rng{std::random_device{}()};
    const auto cap = std::min<std::int64_t>(
        o.backoff_max.count(), o.backoff_base.count() << std::min(retry, 20)
    );
    std::uniform_int_distribution<std::int64_t> pick(cap / 2, std::max<std::int64_t>(cap, 1));
    return std::chrono::milliseconds(pick(rng));
}

bool retryable(const StreamEvent& e) {
    switch (e.error) {
        case UpstreamError::rate_limit:
        case UpstreamError::overloaded:
        case UpstreamError::server:
        case UpstreamError::connection:
            return true;
        default:
            return false;
    }
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    asio::steady_timer timer(co_await asio::this_coro::executor, d);
    co_await timer.async_wait(asio::use_awaitable);
}

// The provider's stream, with an unexpected exception turned into an error event so that the
// attempt ends when the provider does.
asio::awaitable<void> guarded(Provider& provider, const ChatRequest& request, EventSink sink) {
    try {
        co_await provider.stream(request, sink);
    } catch (const boost::system::system_error& e) {
        if (e.code() == asio::error::operation_aborted) {
            throw;  // cancelled from outside: let the cancellation through
        }
        log::error("provider failed", {{"provider", provider.name()}, {"what", e.what()}});
        sink(StreamEvent::failure(UpstreamError::server, "provider failed"));
    } catch (const std::exception& e) {
        log::error("provider failed", {{"provider", provider.name()}, {"what", e.what()}});
        sink(StreamEvent::failure(UpstreamError::server, "provider failed"));
    }
}

// The error an attempt that timed out ends with.
StreamEvent timeout_event(bool started) {
    return StreamEvent::failure(
        UpstreamError::timeout,
        started ? "the model stopped sending tokens" : "no first token in time"
    );
}

// The error the caller gets when every model of the chain failed. Transient failures everywhere:
// the providers are overloaded. A permanent one (a bad key) keeps its own class, so the caller
// can tell a configuration problem from an outage.
StreamEvent chain_failure(const StreamEvent* last) {
    const bool permanent = last && (last->error == UpstreamError::authentication ||
                                    last->error == UpstreamError::malformed);
    auto error = StreamEvent::failure(
        permanent ? last->error : UpstreamError::overloaded,
        "every model in the chain failed" + (last ? "; last: " + last->text : std::string{})
    );
    if (last) {
        error.http_status = last->http_status;
    }
    return error;
}

// Forwards the cancellation of the coroutine that owns it (the turn's: its client left) to
// `signal`, for as long as it lives, noting it in `stopped` first.
class Forward {
public:
    Forward(asio::cancellation_slot slot, asio::cancellation_signal& signal, bool& stopped)
        : slot_(slot) {
        if (slot_.is_connected()) {
            slot_.assign([&signal, &stopped](asio::cancellation_type type) {
                stopped = true;
                signal.emit(type);
            });
        }
    }

    ~Forward() {
        if (slot_.is_connected()) {
            slot_.clear();
        }
    }

    Forward(const Forward&) = delete;
    Forward& operator=(const Forward&) = delete;

private:
    asio::cancellation_slot slot_;
};

}  // namespace

ModelRouter::ModelRouter(
    const Catalog& catalog,
    std::map<std::string, std::unique_ptr<Provider>, std::less<>> providers,
    std::map<std::string, std::string, std::less<>> key_variables,
    RouterOptions options
)
    : catalog_(catalog),
      providers_(std::move(providers)),
      key_variables_(std::move(key_variables)),
      options_(std::move(options)) {}

bool ModelRouter::available(const ModelInfo& model) const noexcept {
    return providers_.find(model.provider) != providers_.end();
}

Result<const ModelInfo*> ModelRouter::resolve(std::string_view model_id) const {
    const std::string_view id =
        model_id.empty() ? std::string_view(options_.default_model) : model_id;
    const ModelInfo* model = catalog_.find(id);
    if (model == nullptr) {
        return make_error(
            ErrorType::unprocessable,
            "unknown model \"" + std::string(id) + "\"; GET /api/v1/models lists them"
        );
    }
    if (!available(*model)) {
        const auto var = key_variables_.find(model->provider);
        const std::string how =
            var == key_variables_.end() ? "configure its provider" : "set " + var->second;
        return make_error(
            ErrorType::unprocessable,
            "model \"" + model->id + "\" is not available: " + how + " to use it"
        );
    }
    return model;
}

asio::awaitable<void> ModelRouter::attempt(
    Provider& provider, const ChatRequest& request, Attempt& st
) {
    EventSink wrapped = [&st](StreamEvent&& e) {
        if (st.finished || st.stopped) {
            return;
        }
        switch (e.kind) {
            case StreamEvent::Kind::thinking_delta:
            case StreamEvent::Kind::text_delta:
            case StreamEvent::Kind::tool_call:  // visible output: no fallback after it either
                st.started = true;
                // A later deadline needs no wake-up: the watchdog's timer fires at the old one
                // and re-arms itself (waking it on every token cost a turn of the event loop
                // per delta); only an earlier one re-arms it.
                if (st.watchdog != nullptr) {
                    st.watchdog->expires_at(std::min(Clock::now() + st.between, st.total_deadline));
                }
                (*st.sink)(std::move(e));
                break;
            case StreamEvent::Kind::usage:
                st.usage = std::make_unique<StreamEvent>(std::move(e));
                break;
            case StreamEvent::Kind::stop:
                if (st.usage) {
                    (*st.sink)(std::move(*st.usage));
                    st.usage.reset();
                }
                st.finished = true;
                st.ok = true;
                (*st.sink)(std::move(e));
                break;
            case StreamEvent::Kind::error:
                if (st.started) {
                    st.finished = true;
                    (*st.sink)(std::move(e));
                } else {
                    st.failure = std::make_unique<StreamEvent>(std::move(e));
                }
                break;
        }
    };
    // The watchdog is a timer whose handler stops the provider's call through `stop`, which also
    // carries the turn's own cancellation to it; the call runs as its own coroutine only to take
    // that signal. (A `||` with a watchdog coroutine held both sides co_spawned, their shared
    // state and the watchdog's frame for the whole answer: issue 14, memory per open stream.)
    const auto executor = co_await asio::this_coro::executor;
    asio::cancellation_signal stop;
    async::Deadline watchdog(executor, [&stop, &st] {
        st.expired = true;
        st.stopped = true;
        stop.emit(asio::cancellation_type::terminal);
    });
    watchdog.expires_at(st.first_deadline);
    st.watchdog = &watchdog;
    {
        const asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
        const Forward forward(cs.slot(), stop, st.stopped);
        auto call = guarded(provider, request, wrapped);
        auto token = asio::bind_cancellation_slot(stop.slot(), asio::as_tuple(asio::use_awaitable));
        auto [thrown] = co_await asio::co_spawn(executor, std::move(call), std::move(token));
        st.watchdog = nullptr;
        watchdog.stop();
        if (cs.cancelled() != asio::cancellation_type::none) {
            // The caller was cancelled (the watchdog may have fired too). No timeout, no
            // fallback: the cancellation goes on up.
            throw boost::system::system_error(asio::error::operation_aborted);
        }
        if (thrown && !st.expired) {
            std::rethrow_exception(thrown);  // the guard itself failed
        }
    }
    if (st.expired && !st.finished) {
        st.failure = std::make_unique<StreamEvent>(timeout_event(st.started));
        if (st.started) {
            st.finished = true;  // (the failure is not read once finished)
            (*st.sink)(std::move(*st.failure));
        }
    }
    if (!st.finished && !st.failure) {
        st.failure = std::make_unique<StreamEvent>(
            StreamEvent::failure(UpstreamError::connection, "the stream ended without a stop")
        );
    }
}

asio::awaitable<RouteResult> ModelRouter::stream(
    const ModelInfo& model, ChatRequest& request, EventSink sink
) {
    // Each attempt asks with its model's id, and for thinking only where that model has it; the
    // caller's request is put back as it came on every way out (a tool round asks again with it).
    struct Restore {
        ChatRequest& request;
        std::string model;
        bool thinking;  // as the caller asked

        ~Restore() {
            request.model = std::move(model);
            request.thinking = thinking;
        }
    };

    const Restore restore{request, request.model, request.thinking};
    std::vector<const ModelInfo*> chain{&model};
    if (const ModelInfo* fallback = catalog_.find(options_.fallback_model);
        fallback != nullptr && fallback != &model && available(*fallback)) {
        chain.push_back(fallback);
    }
    const auto started_at = Clock::now();
    RouteResult result;
    std::unique_ptr<StreamEvent> last_failure;
    for (std::size_t i = 0; i < chain.size(); ++i) {
        const ModelInfo& m = *chain[i];
        Provider& provider = *providers_.at(m.provider);
        result.provider = std::string(provider.name());
        result.model = m.id;
        result.fallback_used = i > 0;
        for (int retry = 0;; ++retry) {
            ++result.attempts;
            Attempt st;
            st.sink = &sink;
            st.between = options_.between_tokens_timeout;
            st.total_deadline = started_at + options_.total_timeout;
            st.first_deadline =
                std::min(Clock::now() + options_.first_token_timeout, st.total_deadline);
            request.model = m.id;
            request.thinking = restore.thinking && m.thinking;  // never ask for what it cannot do
            co_await attempt(provider, request, st);
            if (st.finished) {
                result.ok = st.ok;
                co_return result;
            }
            // (A reference: the failure stays in `st`, not in a slot of this long-lived frame.)
            StreamEvent& failure = *st.failure;
            log::warn(
                "model attempt failed",
                {{"provider", provider.name()},
                 {"model", m.id},
                 {"error", upstream_error_name(failure.error)},
                 {"status", failure.http_status},
                 {"detail", failure.text}}
            );
            if (failure.error == UpstreamError::invalid_request) {
                sink(std::move(failure));  // our request is wrong: no other model will do better
                co_return result;
            }
            const bool may_retry =
                retryable(failure) && retry < options_.max_retries &&
                (!failure.retry_after || *failure.retry_after <= options_.max_retry_after);
            if (!may_retry) {
                last_failure = std::move(st.failure);
                break;
            }
            const auto delay =
                failure.retry_after
                    ? std::chrono::duration_cast<std::chrono::milliseconds>(*failure.retry_after)
                    : jittered_backoff(options_, retry);
            if (Clock::now() + delay >= started_at + options_.total_timeout) {
                last_failure = std::move(st.failure);
                break;
            }
            co_await sleep_for(delay);
        }
    }
    sink(chain_failure(last_failure.get()));
    co_return result;
}

}  // namespace parley::llm
