export { digestSecret, digestsEqual, generateSecret, hashPassword, verifyPassword } from './secret.js';
