#include "store/sqlite/group_writer.hpp"

#include <algorithm>
#include <mutex>
#include <utility>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/log.hpp"
#include "store/sqlite/sqlite_store_impl.hpp"

namespace parley::store::sqlite {

namespace asio = boost::asio;

struct GroupWriter::Pending {
    Job job;
    Result<void>* result;
    asio::any_io_executor home;  // the waiting coroutine's, kept running until it resumes
    asio::any_completion_handler<void()> resume;
};

struct GroupWriter::Queue {
    std::mutex mutex;
    std::vector<Pending> waiting;
    bool writing = false;  // a write() runs (or is posted) and will take what waits
};

namespace {

// One message in the open transaction: the conversation's time and active leaf, then the row;
// its seq. A missing conversation is not_found with nothing written; a taken id throws.
Result<std::int64_t> insert_checked(Connection& c, const Message& m) {
    // The update first: it tells a missing conversation apart from a taken message id, which
    // the foreign key would report as the same constraint failure.
    c.prepare("UPDATE conversations SET updated_at = ?, active_leaf_id = ? WHERE id = ?")
        .bind(1, to_iso8601(m.created_at))
        .bind(2, m.id)
        .bind(3, m.conversation_id)
        .step();
    if (sqlite3_changes(c.handle()) != 1) {
        return make_error(ErrorType::not_found, "conversation not found");
    }
    return insert_message_row(c, m);
}

// Whether a full-text batch is due (index_batch_due), in the group's transaction: a watermark
// that cannot be read is logged, not thrown, so that it fails no writer of the group.
bool full_text_due(Connection& c) {
    try {
        return index_batch_due(c);
    } catch (const SqliteError& e) {
        log::error("the full-text watermark cannot be read", {{"what", e.what()}});
        return false;
    }
}

}  // namespace

// One write of a batch, in a savepoint of its own: a refusal (a message's conversation not
// there, its id taken; returned or thrown as a constraint failure) undoes only this write. Other
// failures (busy, disk) throw: the whole batch fails.
Result<void> GroupWriter::run_one(Connection& c, const Job& job) {
    c.run_cached("SAVEPOINT batched");
    try {
        auto result = job.run(c, job.arg);
        if (!result) {
            c.run_cached("ROLLBACK TO batched");
        }
        c.run_cached("RELEASE batched");
        return result;
    } catch (const SqliteError& e) {
        if ((e.code() & 0xFF) != SQLITE_CONSTRAINT) {
            throw;
        }
        c.run_cached("ROLLBACK TO batched");
        c.run_cached("RELEASE batched");
        return to_error(e);
    }
}

GroupWriter::GroupWriter(ConnectionPool& connections, async::BlockingPool& pool)
    : connections_(connections),
      pool_(pool),
      queue_(std::make_unique<Queue>()) {}

GroupWriter::~GroupWriter() = default;

asio::awaitable<Result<void>> GroupWriter::insert(const Message& m, Placed* placed) {
    struct Insert {
        const Message* message;
        Placed* placed;
    };

    const Insert insert{&m, placed};
    co_return co_await submit(Job{
        [](Connection& c, const void* arg) {
            const auto& in = *static_cast<const Insert*>(arg);
            auto seq = insert_checked(c, *in.message);
            if (!seq) {
                return Result<void>(seq.error());
            }
            if (in.placed != nullptr) {
                // The message's seq, and the epoch as this transaction counts it.
                in.placed->seq = *seq;
                in.placed->epoch = message_epoch(c);
            }
            return Result<void>{};
        },
        &insert,
        m.role == "assistant"});
}

asio::awaitable<Result<void>> GroupWriter::submit(Job job) {
    Result<void> result;
    co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
        [this, job, &result](auto handler) {
            asio::any_io_executor home = asio::prefer(
                asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked
            );
            bool start = false;
            {
                const std::lock_guard lock(queue_->mutex);
                queue_->waiting.push_back(Pending{job, &result, std::move(home), std::move(handler)}
                );
                start = !std::exchange(queue_->writing, true);
            }
            if (start) {
                pool_.post([this] { write(); });
            }
        },
        asio::use_awaitable
    );
    co_return result;
}

void GroupWriter::write() {
    std::vector<Pending> batch;
    {
        const std::lock_guard lock(queue_->mutex);
        batch.swap(queue_->waiting);
    }
    for (;;) {
        ++batches_;
        // The waiter that also waits for a full-text batch, if one is due: the group's last
        // answer.
        auto carrier = std::find_if(batch.rbegin(), batch.rend(), [](const Pending& p) {
            return p.job.indexes;
        });
        bool index = false;
        try {
            auto lease = connections_.acquire();
            in_transaction(*lease, [&] {
                if (batch.size() == 1) {
                    // Alone, a write needs no savepoint (two statements fewer): a refusal it
                    // throws rolls back a transaction that holds nothing else, and reaches its
                    // waiter as the batch's failure below, the same error as from a savepoint; one
                    // it returns has written nothing (write()'s contract), so the commit is empty.
                    const Job& job = batch.front().job;
                    *batch.front().result = job.run(*lease, job.arg);
                } else {
                    for (auto& p : batch) {
                        *p.result = run_one(*lease, p.job);
                    }
                }
                index = carrier != batch.rend() && full_text_due(*lease);
            });
        } catch (const SqliteError& e) {
            index = false;
            const Error error = to_error(e);  // rolled back: none of the batch is stored
            for (auto& p : batch) {
                *p.result = error;
            }
        } catch (const std::exception& e) {
            // Never out of the pool task: the waiters would never resume, nor the next batch run.
            index = false;
            const Error error = make_error(ErrorType::api, "database error", e.what());
            for (auto& p : batch) {
                *p.result = error;
            }
        }
        if (index) {
            // The others go on now; the carrier, waiting still, keeps the writer's owner there
            // while the batch is indexed.
            for (auto& p : batch) {
                if (&p != &*carrier) {
                    asio::post(p.home, std::move(p.resume));
                }
            }
            Pending held = std::move(*carrier);
            batch.clear();
            batch.push_back(std::move(held));
            index_batch();
        }
        // The next batch is taken before this one's waiters resume: once the last of them has,
        // the writer's owner may be gone, so nothing of `this` is touched after that.
        std::vector<Pending> next;
        {
            const std::lock_guard lock(queue_->mutex);
            next.swap(queue_->waiting);
            queue_->writing = !next.empty();
        }
        for (auto& p : batch) {
            asio::post(p.home, std::move(p.resume));
        }
        if (next.empty()) {
            return;
        }
        batch = std::move(next);
    }
}

void GroupWriter::index_batch() {
    if (before_index_) {
        before_index_();
    }
    try {
        auto lease = connections_.acquire();
        in_transaction(*lease, [&] { index_messages_above(*lease); });
    } catch (const std::exception& e) {
        // Nothing is lost: the rows wait above the watermark for the next batch, or for a
        // search, which indexes what waits before it reads.
        log::warn("full-text batch failed", {{"what", e.what()}});
    }
}

}  // namespace parley::store::sqlite
