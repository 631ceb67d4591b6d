// The job event stream of `s3d-nerf serve` (GET /api/jobs/ID/events): one
// long chunked HTTP response of binary messages, read by the page with
// fetch() + response.body.getReader() (web/app.js parses the same framing).
//
//   message = type (u8) | length of the payload (u32 BE) | payload
//   type 1: a JSON event (UTF-8)
//   type 2: a preview frame: index (u32 BE) | width (u16 BE) | height (u16 BE) | JPEG bytes
//
// Why not WebSocket or Server-Sent Events: the package has no WebSocket
// dependency and the traffic is one-way (the audio goes up as an ordinary
// upload, PUT /api/jobs/ID/audio, which the server reads as a stream); SSE is
// text only, so every JPEG would be base64-encoded (+33%). A plain streamed
// response carries the JPEGs as they are, works in every current browser
// through fetch(), and TCP flow control tells the server when a viewer falls
// behind (then preview frames are skipped; the mp4 still gets every frame).

export const MSG_JSON = 1;
export const MSG_FRAME = 2;

/** Events of a job, in the order they can come. */
export type JobEvent =
  | { type: 'waiting' } // for the audio upload
  | { type: 'queued'; position: number; ahead: number } // position 1: next in line
  | { type: 'started'; width: number; height: number; previewWidth: number; previewHeight: number; fps: number; audio: string }
  | { type: 'total'; frames: number; duration: number } // the audio is all in: the frame count is known
  | { type: 'done'; frames: number; duration: number; seconds: number; video: string | null; videoError?: string }
  | { type: 'error'; code: string; message: string };

export function jsonMessage(event: JobEvent): Buffer {
  const body = Buffer.from(JSON.stringify(event), 'utf8');
  const head = Buffer.alloc(5);
  head.writeUInt8(MSG_JSON, 0);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

export function frameMessage(index: number, width: number, height: number, jpeg: Buffer): Buffer {
  const head = Buffer.alloc(13);
  head.writeUInt8(MSG_FRAME, 0);
  head.writeUInt32BE(8 + jpeg.length, 1);
  head.writeUInt32BE(index, 5);
  head.writeUInt16BE(width, 9);
  head.writeUInt16BE(height, 11);
  return Buffer.concat([head, jpeg]);
}
