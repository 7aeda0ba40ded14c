#include "redis/connection.hpp"

#include <algorithm>
#include <exception>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "common/log.hpp"

namespace parley::redis {

namespace asio = boost::asio;

namespace {

using Clock = std::chrono::steady_clock;

Error unavailable(std::string detail) {
    return make_error(ErrorType::overloaded, "redis unavailable", std::move(detail));
}

Reply to_reply(const redisReply& r) {
    Reply out;
    switch (r.type) {
        case REDIS_REPLY_STRING:
            out.type = Reply::Type::string;
            out.str.assign(r.str, r.len);
            break;
        case REDIS_REPLY_STATUS:
            out.type = Reply::Type::status;
            out.str.assign(r.str, r.len);
            break;
        case REDIS_REPLY_ERROR:
            out.type = Reply::Type::error;
            out.str.assign(r.str, r.len);
            break;
        case REDIS_REPLY_INTEGER:
            out.type = Reply::Type::integer;
            out.integer = r.integer;
            break;
        case REDIS_REPLY_ARRAY:
            out.type = Reply::Type::array;
            out.elements.reserve(r.elements);
            for (std::size_t i = 0; i < r.elements; ++i) {
                out.elements.push_back(to_reply(*r.element[i]));
            }
            break;
        default:
            out.type = Reply::Type::nil;
            break;
    }
    return out;
}

// One command waiting for its reply. hiredis holds a heap-allocated shared_ptr to it as the
// callback's privdata (a C interface: the callback deletes it), so the waiting coroutine may give
// up (timeout, cancellation) before hiredis calls back.
struct Pending {
    explicit Pending(const asio::any_io_executor& ex) : timer(ex) {}

    std::optional<Result<Reply>> result;
    asio::steady_timer timer;
};

// hiredis calls every callback exactly once: with the reply, or with NULL when the context is
// freed (disconnection, stop()).
void on_reply(redisAsyncContext* /*ac*/, void* reply, void* privdata) {
    const std::unique_ptr<std::shared_ptr<Pending>> holder(
        static_cast<std::shared_ptr<Pending>*>(privdata)
    );
    Pending& pending = **holder;
    if (reply == nullptr) {
        pending.result = unavailable("connection lost before the reply");
    } else {
        pending.result = to_reply(*static_cast<const redisReply*>(reply));
    }
    pending.timer.cancel();
}

Connection& of(void* privdata) {
    return *static_cast<Connection*>(privdata);
}

void hook_add_read(void* privdata) {
    of(privdata).on_add_read();
}

void hook_del_read(void* privdata) {
    of(privdata).on_del_read();
}

void hook_add_write(void* privdata) {
    of(privdata).on_add_write();
}

void hook_del_write(void* privdata) {
    of(privdata).on_del_write();
}

void hook_cleanup(void* privdata) {
    of(privdata).on_cleanup();
}

void on_connect_cb(const redisAsyncContext* ac, int status) {
    of(ac->data).on_connect(status);
}

void on_pubsub_cb(redisAsyncContext* /*ac*/, void* reply, void* privdata) {
    if (reply != nullptr) {
        of(privdata).on_pubsub(reply);
    }
}

}  // namespace

Connection::Connection(
    asio::io_context& ctx,
    const ClientOptions& options,
    std::string role,
    StateHandler on_state,
    MessageHandler on_message
)
    : ctx_(ctx),
      options_(options),
      role_(std::move(role)),
      on_state_(std::move(on_state)),
      on_message_(std::move(on_message)),
      descriptor_(ctx),
      wake_(ctx),
      rng_(std::random_device{}()) {}

Connection::~Connection() {
    // The client calls stop() on the thread first, so this only matters if it could not: free the
    // context without the adapter (hiredis closes the socket, so the descriptor lets go of it).
    if (descriptor_.is_open()) {
        descriptor_.release();
    }
    if (ac_ != nullptr) {
        ac_->ev = {};
        redisAsyncFree(ac_);
    }
}

void Connection::start() {
    asio::co_spawn(
        ctx_,
        [self = shared_from_this()] { return self->run(); },
        [name = options_.name, role = role_](std::exception_ptr e) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    log::error(
                        "redis connection loop failed",
                        {{"redis", name}, {"role", role}, {"error", ex.what()}}
                    );
                }
            }
        }
    );
}

void Connection::stop() {
    stopping_ = true;
    drop();
    wake_.cancel();
}

void Connection::drop() {
    if (ac_ != nullptr) {
        // Runs the pending callbacks with NULL, then cleanup (on_cleanup), then frees.
        redisAsyncFree(ac_);
    }
}

void Connection::set_state(bool up, bool subscribed) {
    const bool changed = up_.load() != up || subscribed_.load() != subscribed;
    up_.store(up, std::memory_order_release);
    subscribed_.store(subscribed, std::memory_order_release);
    if (changed && on_state_) {
        on_state_();
    }
}

std::chrono::milliseconds Connection::jittered(std::chrono::milliseconds delay) {
    // Between half and all of the delay, so that instances that lost Redis together do not all
    // come back in the same millisecond.
    std::uniform_int_distribution<std::chrono::milliseconds::rep> pick(
        delay.count() / 2, delay.count()
    );
    return std::chrono::milliseconds(pick(rng_));
}

asio::awaitable<void> Connection::wait_until(Clock::time_point deadline) {
    wake_.expires_at(deadline);
    co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<void> Connection::run() {
    auto delay = options_.reconnect_min;
    std::uint64_t failures = 0;
    auto last_warning = Clock::time_point{};
    while (!stopping_) {
        std::string why;
        if (co_await establish(why)) {
            log::info(
                "redis connected",
                {{"redis", options_.name},
                 {"role", role_},
                 {"endpoint", options_.endpoint.describe()},
                 {"failed_attempts", failures}}
            );
            failures = 0;
            delay = options_.reconnect_min;
            set_state(
                true,
                std::includes(
                    confirmed_.begin(), confirmed_.end(), patterns_.begin(), patterns_.end()
                )
            );
            while (ac_ != nullptr && !stopping_) {
                co_await wait_until(Clock::time_point::max());
            }
            set_state(false, false);
            if (stopping_) {
                break;
            }
            log::warn(
                "redis connection lost",
                {{"redis", options_.name}, {"role", role_}, {"error", last_error_}}
            );
            last_warning = Clock::now();
        } else {
            ++failures;
            // The first failure, then at most one line every 30 s while Redis stays away.
            if (failures == 1 || Clock::now() - last_warning >= std::chrono::seconds(30)) {
                log::warn(
                    "redis unreachable",
                    {{"redis", options_.name},
                     {"role", role_},
                     {"endpoint", options_.endpoint.describe()},
                     {"error", why},
                     {"attempts", failures}}
                );
                last_warning = Clock::now();
            }
        }
        if (stopping_) {
            break;
        }
        co_await wait_until(Clock::now() + jittered(delay));
        delay = std::min(delay * 2, options_.reconnect_max);
    }
}

asio::awaitable<bool> Connection::establish(std::string& why) {
    // Resolves the host (getaddrinfo) and starts a non-blocking connect: on this thread only.
    redisAsyncContext* ac =
        redisAsyncConnect(options_.endpoint.host.c_str(), options_.endpoint.port);
    if (ac == nullptr) {
        why = "cannot allocate a hiredis context";
        co_return false;
    }
    if (ac->err != 0) {
        why = ac->errstr;
        redisAsyncFree(ac);
        co_return false;
    }
    ++generation_;
    ac_ = ac;
    want_read_ = want_write_ = read_armed_ = write_armed_ = false;
    connected_ = false;
    last_error_.clear();
    confirmed_.clear();
    boost::system::error_code ec;
    descriptor_.assign(ac->c.fd, ec);
    if (ec) {
        why = "cannot watch the socket: " + ec.message();
        redisAsyncFree(ac_);  // no adapter attached yet: nothing calls back
        ac_ = nullptr;
        co_return false;
    }
    ac->data = this;
    ac->ev.data = this;
    ac->ev.addRead = &hook_add_read;
    ac->ev.delRead = &hook_del_read;
    ac->ev.addWrite = &hook_add_write;
    ac->ev.delWrite = &hook_del_write;
    ac->ev.cleanup = &hook_cleanup;
    // Setting the connect callback asks for the first write event, which completes the connect.
    redisAsyncSetConnectCallback(ac, &on_connect_cb);

    const auto deadline = Clock::now() + options_.connect_timeout;
    while (ac_ != nullptr && !connected_ && !stopping_ && Clock::now() < deadline) {
        co_await wait_until(deadline);
    }
    if (!connected_ || ac_ == nullptr) {
        why = ac_ == nullptr ? last_error_ : "connect timed out";
        drop();
        co_return false;
    }

    const auto& endpoint = options_.endpoint;
    if (!endpoint.password.empty()) {
        std::vector<std::string> auth{"AUTH"};
        if (!endpoint.username.empty()) {
            auth.push_back(endpoint.username);
        }
        auth.push_back(endpoint.password);
        const auto r = co_await send_command(std::move(auth));
        if (!r || r->is_error()) {
            why = "AUTH failed: " + (r ? r->str : r.error().detail);
            drop();
            co_return false;
        }
    }
    if (endpoint.db != 0) {
        // Built first: g++ 12 cannot compile a braced list inside a co_await expression.
        std::vector<std::string> select{"SELECT", std::to_string(endpoint.db)};
        const auto r = co_await send_command(std::move(select));
        if (!r || r->is_error()) {
            why = "SELECT failed: " + (r ? r->str : r.error().detail);
            drop();
            co_return false;
        }
    }
    if (ac_ == nullptr) {
        why = last_error_;
        co_return false;
    }
    // Notice a peer that vanished without a FIN (a dead host) within a minute or so.
    redisEnableKeepAlive(&ac_->c);
    for (const auto& pattern : patterns_) {
        issue_psubscribe(pattern);
    }
    co_return ac_ != nullptr;
}

void Connection::arm_read() {
    if (read_armed_ || !want_read_ || ac_ == nullptr) {
        return;
    }
    read_armed_ = true;
    descriptor_.async_wait(
        asio::posix::stream_descriptor::wait_read,
        [self = shared_from_this(), generation = generation_](boost::system::error_code ec) {
            if (generation != self->generation_) {
                return;  // a wait of an earlier connection, aborted by its clean-up
            }
            self->read_armed_ = false;
            if (ec || self->ac_ == nullptr) {
                return;
            }
            // May free the context (EOF, error): on_cleanup then clears ac_.
            redisAsyncHandleRead(self->ac_);
            self->arm_read();
        }
    );
}

void Connection::arm_write() {
    if (write_armed_ || !want_write_ || ac_ == nullptr) {
        return;
    }
    write_armed_ = true;
    descriptor_.async_wait(
        asio::posix::stream_descriptor::wait_write,
        [self = shared_from_this(), generation = generation_](boost::system::error_code ec) {
            if (generation != self->generation_) {
                return;
            }
            self->write_armed_ = false;
            if (ec || self->ac_ == nullptr || !self->want_write_) {
                return;
            }
            redisAsyncHandleWrite(self->ac_);
            self->arm_write();
        }
    );
}

void Connection::on_add_read() {
    want_read_ = true;
    arm_read();
}

void Connection::on_add_write() {
    want_write_ = true;
    arm_write();
}

void Connection::on_cleanup() {
    // hiredis is about to close the socket: stop watching it without closing it (release, not
    // close), which also aborts the pending waits.
    if (descriptor_.is_open()) {
        descriptor_.release();
    }
    if (ac_ != nullptr && ac_->err != 0 && ac_->errstr != nullptr) {
        last_error_ = ac_->errstr;
    } else if (ac_ != nullptr && ac_->c.err != 0) {
        last_error_ = ac_->c.errstr;
    }
    if (last_error_.empty()) {
        last_error_ = stopping_ ? "closed" : "connection closed";
    }
    ac_ = nullptr;
    want_read_ = want_write_ = false;
    wake_.cancel();
}

void Connection::on_connect(int status) {
    if (status == REDIS_OK) {
        connected_ = true;
    } else if (ac_ != nullptr) {
        last_error_ = ac_->c.errstr;
    }
    wake_.cancel();
}

void Connection::psubscribe(std::string pattern) {
    const auto [it, added] = patterns_.insert(std::move(pattern));
    if (!added) {
        return;
    }
    if (up()) {
        set_state(true, false);
        issue_psubscribe(*it);
    }
}

void Connection::issue_psubscribe(const std::string& pattern) {
    const char* argv[] = {"PSUBSCRIBE", pattern.data()};
    const std::size_t lengths[] = {10, pattern.size()};
    // The callback stays registered for the pattern: hiredis calls it for the confirmation and
    // for every message, and once with NULL when the context is freed.
    redisAsyncCommandArgv(ac_, &on_pubsub_cb, this, 2, argv, lengths);
}

void Connection::on_pubsub(const void* raw) {
    const auto& reply = *static_cast<const redisReply*>(raw);
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements < 3) {
        return;
    }
    const auto text = [&](std::size_t i) {
        const redisReply* e = reply.element[i];
        return e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS
                   ? std::string_view(e->str, e->len)
                   : std::string_view();
    };
    const auto kind = text(0);
    if (kind == "psubscribe") {
        confirmed_.insert(std::string(text(1)));
        set_state(
            up(),
            std::includes(confirmed_.begin(), confirmed_.end(), patterns_.begin(), patterns_.end())
        );
    } else if (kind == "pmessage" && reply.elements == 4 && on_message_) {
        on_message_(std::string(text(1)), text(2), text(3));
    }
}

asio::awaitable<Result<Reply>> Connection::command(std::vector<std::string> args) {
    if (!up()) {
        co_return unavailable(last_error_.empty() ? "not connected" : last_error_);
    }
    co_return co_await send_command(std::move(args));
}

asio::awaitable<Result<Reply>> Connection::send_command(std::vector<std::string> args) {
    if (ac_ == nullptr) {
        co_return unavailable("not connected");
    }
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    argv.reserve(args.size());
    lengths.reserve(args.size());
    for (const auto& a : args) {
        argv.push_back(a.data());
        lengths.push_back(a.size());
    }
    auto pending = std::make_shared<Pending>(ctx_.get_executor());
    auto holder = std::make_unique<std::shared_ptr<Pending>>(pending);
    if (redisAsyncCommandArgv(
            ac_, &on_reply, holder.get(), static_cast<int>(argv.size()), argv.data(), lengths.data()
        ) != REDIS_OK) {
        co_return unavailable("hiredis refused the command (disconnecting)");
    }
    holder.release();  // on_reply owns it now
    pending->timer.expires_after(options_.command_timeout);
    while (!pending->result) {
        const auto [ec] = co_await pending->timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (pending->result) {
            break;
        }
        if (!ec) {
            co_return unavailable("no reply within the command timeout");
        }
        const auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none) {
            co_return unavailable("cancelled");
        }
    }
    co_return std::move(*pending->result);
}

}  // namespace parley::redis
