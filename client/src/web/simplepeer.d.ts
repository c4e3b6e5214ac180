/** simple-peer's self-contained browser build (the package's index.js needs Node's stream and buffer). */
declare module 'simple-peer/simplepeer.min.js' {
  import SimplePeer from 'simple-peer';
  export default SimplePeer;
}
