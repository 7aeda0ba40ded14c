// Server-Sent Events from a fetch() body. EventSource cannot POST (the answer stream) nor send an
// Authorization header (the events feed), so the client reads both streams itself.

/**
 * Yields {event, data} for each event in `body` (a ReadableStream of bytes), following the
 * EventSource parsing rules that matter here: `event:` and `data:` fields, several data lines
 * joined with "\n", comments skipped, an event dispatched at a blank line. Throws what the read
 * throws (an AbortError when the fetch is aborted).
 */
export async function* readSse(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let event = "";
    let data = [];
    try {
        for (;;) {
            const { value, done } = await reader.read();
            if (done) {
                break;
            }
            buffer += value;
            let nl;
            while ((nl = buffer.indexOf("\n")) !== -1) {
                let line = buffer.slice(0, nl);
                buffer = buffer.slice(nl + 1);
                if (line.endsWith("\r")) {
                    line = line.slice(0, -1);
                }
                if (line === "") {
                    if (data.length > 0) {
                        yield { event: event || "message", data: data.join("\n") };
                    }
                    event = "";
                    data = [];
                    continue;
                }
                if (line.startsWith(":")) {
                    continue;
                }
                const colon = line.indexOf(":");
                const field = colon === -1 ? line : line.slice(0, colon);
                let v = colon === -1 ? "" : line.slice(colon + 1);
                if (v.startsWith(" ")) {
                    v = v.slice(1);
                }
                if (field === "event") {
                    event = v;
                } else if (field === "data") {
                    data.push(v);
                }
            }
        }
    } finally {
        reader.releaseLock();
    }
}
