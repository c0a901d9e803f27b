"""ROS 2 adapters: message bridge, node base and nodes. The only package that imports rclpy."""
