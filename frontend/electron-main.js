// Example Electron main process, kept to show how the desktop app would use this
// renderer; Electron is not a dependency and no test runs this file (the tests run
// tests/fixtures/electron-standin/main.js in its place).
// It starts nothing itself: the dev server must already be serving the page, which is
// loaded over HTTP exactly as in a browser so that the dev server stays the single
// source of the page and of config.json. In an app with Electron installed, `cargo
// xtask dev` runs it as [process.electron] with after = ["frontend"] (README
// "Electron"), and sets FRONTEND_URL to the port it settled on.
'use strict';

const { app, BrowserWindow } = require('electron');

app.whenReady().then(() => {
  const win = new BrowserWindow({ width: 900, height: 700 });
  win.loadURL(process.env.FRONTEND_URL || 'http://127.0.0.1:5173/');
});

// Quitting with the last window matches what a dev tool is expected to do on every platform.
app.on('window-all-closed', () => app.quit());
