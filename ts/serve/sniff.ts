// File types from their first bytes (magic numbers), for `s3d-nerf serve`
// uploads: a name or a Content-Type says nothing about what a file holds.

export type ImageKind = 'png' | 'jpeg' | 'webp' | 'gif' | 'avif' | 'tiff';
/** 'wav' is decoded as it arrives; the others are compressed formats decoded by ffmpeg. */
export type AudioKind = 'wav' | 'webm' | 'ogg' | 'flac' | 'mp4' | 'mpeg' | 'aiff' | 'caf';

/** Bytes needed to tell any of the kinds apart. */
export const SNIFF_BYTES = 12;

export const IMAGE_KINDS_TEXT = 'PNG, JPEG, WebP, GIF, AVIF or TIFF';
export const AUDIO_KINDS_TEXT = 'WAV, WebM/Opus (what browsers record), Ogg, FLAC, MP3/AAC, MP4/M4A, AIFF or CAF';

const ascii = (b: Uint8Array, start: number, end: number): string => String.fromCharCode(...b.subarray(start, Math.min(end, b.length)));

/** ISO base media file ('....ftyp<brand>'): the major brand, else undefined. */
function ftypBrand(b: Uint8Array): string | undefined {
  return b.length >= 12 && ascii(b, 4, 8) === 'ftyp' ? ascii(b, 8, 12) : undefined;
}

export function sniffImage(b: Uint8Array): ImageKind | undefined {
  if (b.length >= 8 && b[0] === 0x89 && ascii(b, 1, 4) === 'PNG' && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return 'webp';
  if (b.length >= 6 && (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a')) return 'gif';
  const brand = ftypBrand(b);
  if (brand === 'avif' || brand === 'avis') return 'avif';
  if (b.length >= 4 && ((ascii(b, 0, 2) === 'II' && b[2] === 42 && b[3] === 0) || (ascii(b, 0, 2) === 'MM' && b[2] === 0 && b[3] === 42))) return 'tiff';
  return undefined;
}

export function sniffAudio(b: Uint8Array): AudioKind | undefined {
  if (b.length >= 12 && ['RIFF', 'RIFX', 'RF64'].includes(ascii(b, 0, 4)) && ascii(b, 8, 12) === 'WAVE') return 'wav';
  if (b.length >= 4 && b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return 'webm'; // EBML: WebM / Matroska
  if (b.length >= 4 && ascii(b, 0, 4) === 'OggS') return 'ogg';
  if (b.length >= 4 && ascii(b, 0, 4) === 'fLaC') return 'flac';
  const brand = ftypBrand(b);
  if (brand !== undefined && brand !== 'avif' && brand !== 'avis' && !brand.startsWith('hei') && !brand.startsWith('mif')) return 'mp4';
  if (b.length >= 3 && ascii(b, 0, 3) === 'ID3') return 'mpeg';
  // An MPEG audio frame sync (11 bits set): MP3 (layer bits 01..11) or AAC ADTS (layer bits 00).
  if (b.length >= 2 && b[0] === 0xff && (b[1]! & 0xe0) === 0xe0) return 'mpeg';
  if (b.length >= 12 && ascii(b, 0, 4) === 'FORM' && (ascii(b, 8, 12) === 'AIFF' || ascii(b, 8, 12) === 'AIFC')) return 'aiff';
  if (b.length >= 4 && ascii(b, 0, 4) === 'caff') return 'caf';
  return undefined;
}

/** The first bytes, for messages: printable ASCII as a string, else hex. */
export function describeStart(b: Uint8Array): string {
  if (b.length === 0) return 'an empty file';
  const head = b.subarray(0, 8);
  const text = ascii(head, 0, head.length);
  if (/^[\x20-\x7e\t\r\n]+$/.test(text)) return `text starting with ${JSON.stringify(text)}`;
  return `bytes starting with 0x${Array.from(head, (x) => x.toString(16).padStart(2, '0')).join('').toUpperCase()}`;
}
