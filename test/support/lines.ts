/**
 * Reading a child process's output as lines, for the helpers that talk to a child over
 * its stdin and stdout (one request, one answer line).
 */

/**
 * Yields each newline-terminated line of `stream`, without its newline. A last piece
 * with no newline is not a line (the child ended mid-line) and is not yielded.
 */
export async function* completeLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
    }
  }
}
