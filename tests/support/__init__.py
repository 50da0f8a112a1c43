"""What the tests share: the mocks harness, the test hosts, the swarm on them."""
