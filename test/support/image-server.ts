/** A local HTTP server for update images, with Range support, counting the bytes it sends. */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export class ImageServer {
  bytesSent = 0;
  /** Offsets at which the next responses break off (a network cut mid-download), one per response. */
  cuts: number[] = [];
  requests: { path: string; range?: string }[] = [];
  private readonly files = new Map<string, Uint8Array>();

  private constructor(private readonly server: http.Server) {}

  static async start(): Promise<ImageServer> {
    const server = http.createServer();
    const images = new ImageServer(server);
    server.on('request', (request, response) => images.serve(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return images;
  }

  url(name: string): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/${name}`;
  }

  put(name: string, bytes: Uint8Array): string {
    this.files.set(`/${name}`, bytes);
    return this.url(name);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private serve(request: http.IncomingMessage, response: http.ServerResponse): void {
    const path = request.url ?? '/';
    const range = request.headers.range;
    this.requests.push({ path, range });
    const body = this.files.get(path);
    if (!body) {
      response.writeHead(404).end();
      return;
    }
    const match = range ? /^bytes=(\d+)-$/.exec(range) : null;
    const start = match ? Number(match[1]) : 0;
    if (start >= body.length) {
      response.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
      return;
    }
    const part = body.subarray(start);
    response.writeHead(match ? 206 : 200, {
      'Content-Length': String(part.length),
      ...(match ? { 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    });
    const cut = this.cuts.shift();
    if (cut !== undefined && cut > start && cut < body.length) {
      const sent = body.subarray(start, cut);
      this.bytesSent += sent.length;
      response.write(Buffer.from(sent), () => response.destroy());
      return;
    }
    this.bytesSent += part.length;
    response.end(Buffer.from(part));
  }
}
