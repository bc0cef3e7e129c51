// Example Electron main process, kept to show how the desktop app would use this
// renderer; Electron is not a dependency and no test runs this file.
// It starts nothing itself: `cargo xtask dev` (or `node frontend/server.js`) must
// already be serving the page, which is loaded over HTTP exactly as in a browser so
// that the dev server stays the single source of the page and of config.json.
// Run with: npx electron frontend/electron-main.js
'use strict';

const { app, BrowserWindow } = require('electron');

app.whenReady().then(() => {
  const win = new BrowserWindow({ width: 900, height: 700 });
  win.loadURL(`http://127.0.0.1:${process.env.FRONTEND_PORT || 5173}/`);
});

// Quitting with the last window matches what a dev tool is expected to do on every platform.
app.on('window-all-closed', () => app.quit());
