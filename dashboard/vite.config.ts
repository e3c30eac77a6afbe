// The dashboard's build: src/index.html and its TypeScript into dist/ with
// fixed file names (app.js, app.css) and no timestamps, so a fresh build of
// the same sources is byte-identical to the committed bundle (make lint).
import { defineConfig } from "vite";

export default defineConfig({
  root: "src",
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
