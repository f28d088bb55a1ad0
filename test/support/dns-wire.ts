/**
 * Just enough of the DNS wire format (RFC 1035) for a test DNS server: read the question
 * of a query and build an answer with A and TXT records. Compression is used only for
 * the answer names (a pointer to the question), which every resolver understands.
 */

export const TYPE_A = 1;
export const TYPE_TXT = 16;

const HEADER_SIZE = 12;
/** A compression pointer to the question name, which always starts right after the header. */
const POINTER_TO_QUESTION = [0xc0, HEADER_SIZE];

export interface Question {
  readonly id: number;
  readonly recursionDesired: boolean;
  /** Lowercase, without the trailing dot. */
  readonly name: string;
  readonly type: number;
  /** The question section's bytes, echoed in the answer. */
  readonly raw: Uint8Array;
}

/** The first question of a query, or undefined for what is not a well-formed query. */
export function parseQuery(message: Uint8Array): Question | undefined {
  if (message.length < HEADER_SIZE) return undefined;
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const flags = view.getUint16(2);
  if (flags & 0x8000 || view.getUint16(4) < 1) return undefined; // a response, or no question
  const labels: string[] = [];
  let offset = HEADER_SIZE;
  for (;;) {
    const length = message[offset];
    if (length === undefined || length > 63) return undefined; // also refuses pointers in queries
    offset += 1;
    if (length === 0) break;
    if (offset + length > message.length) return undefined;
    labels.push(new TextDecoder().decode(message.subarray(offset, offset + length)));
    offset += length;
  }
  if (offset + 4 > message.length) return undefined;
  return {
    id: view.getUint16(0),
    recursionDesired: (flags & 0x0100) !== 0,
    name: labels.join(".").toLowerCase(),
    type: view.getUint16(offset),
    raw: message.subarray(HEADER_SIZE, offset + 4),
  };
}

export interface AnswerRecord {
  readonly type: typeof TYPE_A | typeof TYPE_TXT;
  /** An IPv4 address for A, the text for TXT (at most 255 bytes). */
  readonly value: string;
}

/** A NOERROR answer to `question` holding `records`, each named as the question. */
export function buildAnswer(question: Question, records: readonly AnswerRecord[], ttl = 60): Uint8Array {
  const bytes: number[] = [];
  const u16 = (n: number) => bytes.push((n >> 8) & 0xff, n & 0xff);
  u16(question.id);
  u16(0x8080 | (question.recursionDesired ? 0x0100 : 0)); // QR, RA (+RD echoed), NOERROR
  u16(1);
  u16(records.length);
  u16(0);
  u16(0);
  bytes.push(...question.raw);
  for (const record of records) {
    const data = rdata(record);
    bytes.push(...POINTER_TO_QUESTION);
    u16(record.type);
    u16(1); // class IN
    u16(ttl >>> 16);
    u16(ttl & 0xffff);
    u16(data.length);
    bytes.push(...data);
  }
  return Uint8Array.from(bytes);
}

function rdata(record: AnswerRecord): number[] {
  if (record.type === TYPE_A) return record.value.split(".").map(Number);
  const text = [...new TextEncoder().encode(record.value)];
  if (text.length > 255) throw new Error(`TXT string of ${text.length} bytes is longer than 255`);
  return [text.length, ...text];
}
