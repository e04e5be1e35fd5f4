"""The survivor portal: hashes pictures in the browser so that only hashes reach the server."""
