export { digestSecret, digestsEqual, generateSecret, hashPassword, verifyPassword } from './secret.js';
export {
  readPrivateFile,
  readRequiredPrivateFile,
  type WatchOptions,
  watchFiles,
  writeFileAtomically,
} from './secret-files.js';
