// Reading Server-Sent Events from a fetch Response, incrementally, for the streaming tests.
//
//   const res = await fetch(url, { ... });
//   const sse = new SseReader(res);
//   const first = await sse.next();            // { event, data, json, comments, retry, id, raw }
//   await sse.until((e) => e.event === "message_stop");
//   await sse.rest();                          // every remaining event; the body has ended
//   sse.bodyError                              // why the body broke off (undefined: it ended cleanly)
//
// Events are split on a blank line (\n\n, \r\r or \r\n\r\n), as the official SDKs do; lines that
// start with ":" are comments (collected in `comments`); several data: lines are joined with
// "\n"; `json` is the parsed data (undefined when it is not JSON). A block with only comments
// (or only `retry:`) is still returned, with event and data undefined, so a test can await it.

export class SseReader {
    constructor(res) {
        this.res = res;
        this.reader = res.body.getReader();
        this.decoder = new TextDecoder();
        this.buffer = "";
        this.text = ""; // everything received
        this.events = []; // every event returned so far
        this.queue = [];
        this.done = false;
        this.bodyError = undefined;
    }

    // Parses whole blocks out of the buffer into the queue.
    #drain() {
        for (;;) {
            const m = /\r\n\r\n|\n\n|\r\r/.exec(this.buffer);
            if (!m) {
                return;
            }
            const block = this.buffer.slice(0, m.index);
            this.buffer = this.buffer.slice(m.index + m[0].length);
            const parsed = parseBlock(block);
            if (parsed) {
                this.queue.push(parsed);
            }
        }
    }

    /** The next event, or undefined once the body has ended (or broken off: see bodyError). */
    async next() {
        for (;;) {
            if (this.queue.length > 0) {
                const e = this.queue.shift();
                this.events.push(e);
                return e;
            }
            if (this.done) {
                return undefined;
            }
            let chunk;
            try {
                chunk = await this.reader.read();
            } catch (err) {
                this.bodyError = err;
                this.done = true;
                continue;
            }
            if (chunk.done) {
                this.done = true;
                this.buffer += this.decoder.decode();
                if (this.buffer.trim() !== "") {
                    const parsed = parseBlock(this.buffer);
                    this.buffer = "";
                    if (parsed) {
                        this.queue.push(parsed);
                    }
                }
                continue;
            }
            const text = this.decoder.decode(chunk.value, { stream: true });
            this.text += text;
            this.buffer += text;
            this.#drain();
        }
    }

    /**
     * Reads events until one satisfies `predicate` (resolves it); rejects when the body ends first
     * or after timeoutMs (the reader is left usable in neither case).
     */
    async until(predicate, timeoutMs = 10_000, what = "an event") {
        let timer;
        const timeout = new Promise((_, reject) => {
            timer = setTimeout(
                () => reject(new Error(`no ${what} within ${timeoutMs} ms; got ${describe(this.events)}`)),
                timeoutMs
            );
        });
        const search = (async () => {
            for (;;) {
                const e = await this.next();
                if (e === undefined) {
                    throw new Error(
                        `the stream ended before ${what}; got ${describe(this.events)}` +
                            (this.bodyError ? ` (body error: ${errorText(this.bodyError)})` : "")
                    );
                }
                if (predicate(e)) {
                    return e;
                }
            }
        })();
        try {
            return await Promise.race([search, timeout]);
        } finally {
            clearTimeout(timer);
        }
    }

    /** Reads to the end of the body (at most timeoutMs); resolves every event read after the call. */
    async rest(timeoutMs = 15_000) {
        const from = this.events.length;
        let timer;
        const timeout = new Promise((_, reject) => {
            timer = setTimeout(
                () => reject(new Error(`the stream did not end within ${timeoutMs} ms; got ${describe(this.events)}`)),
                timeoutMs
            );
        });
        const all = (async () => {
            while ((await this.next()) !== undefined) {
                // keep reading
            }
            return this.events.slice(from);
        })();
        try {
            return await Promise.race([all, timeout]);
        } finally {
            clearTimeout(timer);
        }
    }

    /** Stops reading (the connection is released by the caller's AbortController). */
    async cancel() {
        try {
            await this.reader.cancel();
        } catch {
            // already broken
        }
    }
}

function parseBlock(block) {
    const out = { event: undefined, data: undefined, json: undefined, comments: [], retry: undefined, id: undefined, raw: block };
    const data = [];
    for (const line of block.split(/\r\n|\n|\r/)) {
        if (line === "") {
            continue;
        }
        if (line.startsWith(":")) {
            out.comments.push(line.slice(1).replace(/^ /, ""));
            continue;
        }
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") {
            out.event = value;
        } else if (field === "data") {
            data.push(value);
        } else if (field === "retry") {
            out.retry = Number(value);
        } else if (field === "id") {
            out.id = value;
        }
    }
    if (data.length > 0) {
        out.data = data.join("\n");
        try {
            out.json = JSON.parse(out.data);
        } catch {
            out.json = undefined;
        }
    }
    if (out.event === undefined && out.data === undefined && out.comments.length === 0 && out.retry === undefined) {
        return undefined;
    }
    return out;
}

function errorText(err) {
    const cause = err?.cause ? ` (cause: ${err.cause.code ?? ""} ${err.cause.message ?? err.cause})` : "";
    return `${err?.message ?? err}${cause}`;
}

/** A short description of events for failure messages. */
export function describe(events) {
    return JSON.stringify(
        events.map((e) => (e.event ?? "") + (e.data !== undefined ? ` ${e.data.slice(0, 160)}` : "") + (e.comments.length ? ` :${e.comments.join(",")}` : ""))
    ).slice(0, 4000);
}

/** Asserts helper text: why a body broke off, for failure messages. */
export function bodyErrorText(sse) {
    return sse.bodyError ? errorText(sse.bodyError) : "";
}
