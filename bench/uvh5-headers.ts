// Header validation throughput on warm files: the superblock check alone, and superblock + h5wasm header
// read (what the converter does per settled file). Run: npx tsx bench/uvh5-headers.ts [nFiles] [rounds]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkSuperblock, inspectUvh5 } from '../lib/uvh5/index.js';
import { subbandFileName, writeSubbandFile } from '../lib/uvh5/writer.js';

const nFiles = Number(process.argv[2] ?? 160);
const rounds = Number(process.argv[3] ?? 5);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contimg-bench-uvh5-'));
const t0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const files: string[] = [];
const tw = performance.now();
for (let i = 0; i < nFiles; i++) {
  const p = path.join(dir, subbandFileName(t0 + Math.floor(i / 16) * 309_000, i % 16));
  writeSubbandFile(p, { subband: i % 16, startMs: t0, decRad: 0.97 });
  files.push(p);
}
const writeMs = performance.now() - tw;
const size = fs.statSync(files[0]).size;

function rate(label: string, fn: (p: string) => boolean): void {
  for (const f of files) fn(f); // warm the page cache and the wasm module
  const lat: number[] = [];
  const start = performance.now();
  for (let r = 0; r < rounds; r++)
    for (const f of files) {
      const a = performance.now();
      if (!fn(f)) throw new Error(`${label}: ${f} rejected`);
      lat.push(performance.now() - a);
    }
  const total = performance.now() - start;
  lat.sort((a, b) => a - b);
  const q = (x: number) => lat[Math.min(lat.length - 1, Math.floor(x * lat.length))].toFixed(3);
  console.log(
    `${label.padEnd(28)} ${(lat.length / (total / 1000)).toFixed(0).padStart(7)} files/s   p50 ${q(0.5)} ms   p95 ${q(0.95)} ms   (${lat.length} reads)`,
  );
}

console.log(
  `uvh5-headers: ${nFiles} DSA-110-layout files of ${size} bytes (3 antennas, 24 × 48 × 2), written in ${(writeMs / nFiles).toFixed(1)} ms each`,
);
rate('superblock only', (p) => checkSuperblock(p).ok);
rate('superblock + h5wasm header', (p) => inspectUvh5(p).ok);
fs.rmSync(dir, { recursive: true, force: true });
