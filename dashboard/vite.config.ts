// The dashboard's build: src/index.html and its TypeScript into dist/ with
// fixed file names (app.js, app.css) and no timestamps, so a fresh build of
// the same sources is byte-identical to the committed bundle (make lint).
import { defineConfig } from "vite";

// `npm run dev` serves src/ with hot reload and sends the API, the player
// and the objects to a running control plane (make run's, by default).
declare const process: { env: Record<string, string | undefined> };
const api = process.env.LIVESTREAMS_ADDR || "http://127.0.0.1:8080";

export default defineConfig({
  root: "src",
  server: { proxy: { "/v1": api, "/player": api, "/objects": api } },
  base: "/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  resolve: { alias: { react: "preact/compat", "react-dom": "preact/compat" } },
  build: {
    outDir: "../dist",
    emptyOutDir: true,
    target: "es2020",
    sourcemap: false,
    modulePreload: false,
    reportCompressedSize: false,
    rollupOptions: {
      output: {
        entryFileNames: "app.js",
        chunkFileNames: "[name].js",
        assetFileNames: (a) => (a.names?.[0]?.endsWith(".css") ? "app.css" : "[name][extname]"),
      },
    },
  },
});
